"""Checks on what an agency posts: edXML metadata (pure) and the PDF itself."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from services.common.contract import Status
from services.common.errors import ValidationFailed
from services.common.internal_api import staff_problem, text_problem
from services.common.settings import InputLimits
from services.ingest.errors import EncryptedPdf, NotAPdf

# Decision 20/2020/QĐ-TTg: dot-separated digit groups ending in a letter and two digits,
# e.g. 000.00.00.H41, 000.00.00.G22, 001.00.99.H44.
AGENCY_CODE = re.compile(r"^\d{2,3}(\.\d{2}){2}\.[A-Z]\d{2}$")
# What real systems also use; accepted with a warning flag.
LOOSE_AGENCY_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")

#: What a recipient's document system reports through the API; 01 is recorded by the
#: platform when the copy reaches the inbox, 13 is the sender's take-back request.
REPORTED_BY_RECIPIENT: frozenset[Status] = frozenset(
    {
        Status.REJECTED,
        Status.REGISTERED,
        Status.ASSIGNED,
        Status.PROCESSING,
        Status.COMPLETED,
        Status.TAKE_BACK_ACCEPTED,
        Status.TAKE_BACK_REFUSED,
    }
)


@dataclass(frozen=True)
class AgencyCode:
    code: str
    standard: bool


def check_agency_code(raw: str) -> AgencyCode:
    code = (raw or "").strip()
    if not code:
        raise ValidationFailed("the agency code is blank")
    if AGENCY_CODE.match(code):
        return AgencyCode(code, True)
    if LOOSE_AGENCY_CODE.match(code) and any(c.isdigit() for c in code):
        return AgencyCode(code, False)
    raise ValidationFailed(
        f"{raw!r} is not an agency code: expected a QĐ 20/2020 identifier such as 000.00.00.H41"
    )


MAILBOX = re.compile(r"^[^@\s<>,;\"]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")


def check_mailbox(raw: str | None) -> str | None:
    """An agency's official mailbox (hòm thư công vụ): one plain address, or none."""
    if raw is None or not raw.strip():
        return None
    address = raw.strip()
    if len(address) > 254 or not MAILBOX.match(address):
        raise ValidationFailed(f"{raw!r} is not one plain e-mail address")
    return address


PRIORITIES = {0, 1, 2, 3, 4}
STEERING_TYPES = {0, 1, 2}


@dataclass(frozen=True)
class DocumentMetadata:
    recipients: tuple[str, ...]
    code_number: str
    code_notation: str
    subject: str
    promulgation_date: date
    due_date: date | None
    priority: int
    steering_type: int
    paper: int
    normalized: dict[str, object]  # the metadata as stored and announced
    business_doc_type: int = 0
    supersedes_document_id: str | None = None  # edXML DocumentId of the earlier document
    business_reason: str = ""  # BussinessDocReason: why it is updated or replaced

    def document_id(self, sender: str) -> str:
        """edXML DocumentId: ``{sender},{YYYY/MM/DD},{number}/{notation}``."""
        day = edxml_date(self.promulgation_date)
        return f"{sender},{day},{self.code_number}/{self.code_notation}"


#: The dates a document may carry (promulgation, due): outside them a date is a typo
#: or a probe, and strftime would write a year below 1000 with fewer than four digits.
EARLIEST_DATE, LATEST_DATE = date(1900, 1, 1), date(2099, 12, 31)


def edxml_date(day: date) -> str:
    """YYYY/MM/DD with a four-digit year, always."""
    return f"{day.year:04d}/{day.month:02d}/{day.day:02d}"


def check_status_parts(
    description: object, staff: object, limits: InputLimits, *, text_field: str = "description"
) -> None:
    """A status report's (or a recall's) free-form parts, bounded (422 otherwise): the
    description's (or reason's) length, and the staff object's depth and size."""
    problems = [
        {"field": name, "message": message}
        for name, message in (
            (text_field, text_problem(text_field, description, limits)),
            ("staff", staff_problem(staff, limits)),
        )
        if message is not None
    ]
    if problems:
        raise ValidationFailed("; ".join(p["message"] for p in problems), problems)


class _Errors:
    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.items.append({"field": field, "message": message})


def _text(
    meta: dict[str, object],
    path: str,
    errors: _Errors,
    *,
    required: bool = True,
    max_len: int = 2000,
) -> str:
    node: object = meta
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node is None or (isinstance(node, str) and not node.strip()):
        if required:
            errors.add(path, "is required")
        return ""
    if isinstance(node, int | float) and not isinstance(node, bool):
        node = str(node)
    if not isinstance(node, str):
        errors.add(path, "must be text")
        return ""
    if len(node) > max_len:
        errors.add(path, f"is longer than {max_len} characters")
    return node.strip()


def _date(value: object, path: str, errors: _Errors, *, required: bool) -> date | None:
    if value in (None, ""):
        if required:
            errors.add(path, "is required")
        return None
    if isinstance(value, str) and len(value) <= 20:
        for fmt in ("%Y/%m/%d", "%Y-%m-%d"):
            try:
                day = datetime.strptime(value.strip(), fmt).date()
            except ValueError:
                continue
            if not EARLIEST_DATE <= day <= LATEST_DATE:
                errors.add(path, f"must be between {EARLIEST_DATE} and {LATEST_DATE}")
                return None
            return day
    errors.add(path, "must be a date as YYYY/MM/DD (edXML) or YYYY-MM-DD")
    return None


def _small_int(value: object, path: str, allowed: set[int], default: int, errors: _Errors) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(str(value))  # every accepted value reads back as its text
    except (TypeError, ValueError):
        errors.add(path, f"must be one of {sorted(allowed)}")
        return default
    if isinstance(value, bool) or number not in allowed or str(value).strip() != str(number):
        errors.add(path, f"must be one of {sorted(allowed)}")
        return default
    return number


def _recipients(
    meta: dict[str, object], sender: str, known: set[str], errors: _Errors
) -> list[str]:
    to = meta.get("To")
    if not isinstance(to, list) or not to:
        errors.add("To", 'must be a non-empty list of {"OrganId": ...}')
        return []
    codes: list[str] = []
    for i, item in enumerate(to):
        organ = item.get("OrganId") if isinstance(item, dict) else None
        if not isinstance(organ, str) or not organ.strip():
            errors.add(f"To[{i}].OrganId", "is required")
            continue
        organ = organ.strip()
        if organ in codes:
            errors.add(f"To[{i}].OrganId", f"{organ} is listed twice")
        elif organ == sender:
            errors.add(f"To[{i}].OrganId", "an agency cannot send a document to itself")
        elif organ not in known:
            errors.add(f"To[{i}].OrganId", f"{organ} is not a registered agency")
        else:
            codes.append(organ)
    return codes


def named_agencies(meta: object) -> set[str]:
    """The agency codes the metadata's To list names (unchecked): the ones to look up."""
    to = meta.get("To") if isinstance(meta, dict) else None
    items = to if isinstance(to, list) else []
    organs = (item.get("OrganId") for item in items if isinstance(item, dict))
    return {organ.strip() for organ in organs if isinstance(organ, str) and organ.strip()}


def check_metadata(meta: object, sender: str, known_agencies: set[str]) -> DocumentMetadata:
    """Validate and normalize edXML metadata; raise ValidationFailed listing every problem."""
    if not isinstance(meta, dict):
        raise ValidationFailed("metadata must be a JSON object with edXML field names")
    errors = _Errors()
    given_from = meta.get("From")
    sender_given = given_from.get("OrganId") if isinstance(given_from, dict) else None
    if sender_given not in (None, "", sender):
        errors.add("From.OrganId", f"must be the calling agency {sender} (or be left out)")
    recipients = _recipients(meta, sender, known_agencies, errors)
    number = _text(meta, "Code.CodeNumber", errors, max_len=50)
    notation = _text(meta, "Code.CodeNotation", errors, max_len=100)
    subject = _text(meta, "Subject", errors, max_len=4000)
    type_code = _text(meta, "DocumentType.Type", errors, required=False, max_len=20)
    type_name = _text(meta, "DocumentType.TypeName", errors, required=False, max_len=200)
    if not (type_code or type_name):
        errors.add("DocumentType", "needs Type or TypeName")
    _text(meta, "PromulgationInfo.Place", errors, max_len=200)
    promulgation = meta.get("PromulgationInfo")
    if not isinstance(promulgation, dict):
        promulgation = {}
    promulgation_date = _date(
        promulgation.get("PromulgationDate"),
        "PromulgationInfo.PromulgationDate",
        errors,
        required=True,
    )
    _text(meta, "SignerInfo.FullName", errors, max_len=200)
    _text(meta, "SignerInfo.Position", errors, required=False, max_len=200)
    due_date = _date(meta.get("DueDate"), "DueDate", errors, required=False)
    other = meta.get("OtherInfo")
    if not isinstance(other, dict):
        other = {}
    priority = _small_int(other.get("Priority"), "OtherInfo.Priority", PRIORITIES, 0, errors)
    steering = _small_int(meta.get("SteeringType"), "SteeringType", STEERING_TYPES, 0, errors)
    paper = _small_int(meta.get("Paper"), "Paper", {0, 1}, 0, errors)
    if (promulgation_date and due_date) and due_date < promulgation_date:
        errors.add("DueDate", "is before the promulgation date")
    raw_business = meta.get("Bussiness")
    business: dict[str, object] = raw_business if isinstance(raw_business, dict) else {}
    doc_type = _small_int(
        business.get("BussinessDocType"), "Bussiness.BussinessDocType", {0, 1, 2, 3}, 0, errors
    )
    reference = business.get("DocumentId")
    if doc_type == 1:
        errors.add(
            "Bussiness.BussinessDocType",
            "a recall (1) is not a new document: POST /v1/documents/{id}/recall",
        )
    elif doc_type in (2, 3) and not (isinstance(reference, str) and reference.strip()):
        errors.add(
            "Bussiness.DocumentId",
            "an update (2) or replacement (3) names the DocumentId it supersedes",
        )
    if errors.items:
        raise ValidationFailed("the metadata has problems", errors.items)
    assert promulgation_date is not None
    normalized = dict(meta)
    normalized["From"] = {**(given_from if isinstance(given_from, dict) else {}), "OrganId": sender}
    normalized["To"] = [dict(t) for t in meta["To"]]
    normalized["PromulgationInfo"] = {
        **promulgation,
        "PromulgationDate": edxml_date(promulgation_date),
    }
    normalized["DueDate"] = edxml_date(due_date) if due_date else None
    normalized["OtherInfo"] = {**other, "Priority": priority}
    normalized["SteeringType"] = steering
    normalized["Paper"] = paper
    return DocumentMetadata(
        recipients=tuple(recipients),
        code_number=number,
        code_notation=notation,
        subject=subject,
        promulgation_date=promulgation_date,
        due_date=due_date,
        priority=priority,
        steering_type=steering,
        paper=paper,
        normalized=normalized,
        business_doc_type=doc_type,
        supersedes_document_id=str(reference).strip() if doc_type in (2, 3) else None,
        business_reason=str(business.get("BussinessDocReason") or ""),
    )


@dataclass(frozen=True)
class PdfFacts:
    page_count: int


def check_pdf(path: Path, max_pages: int = 10_000) -> PdfFacts:
    """A real, unencrypted PDF with 1 to ``max_pages`` pages (as its page tree declares).
    Reads the cross-reference data, not every object."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader

    with path.open("rb") as f:
        head = f.read(1024)
        if not head:
            raise NotAPdf("the file is empty")
        if b"%PDF-" not in head:
            raise NotAPdf("the file does not start like a PDF (no %PDF- header)")
        try:
            reader = PdfFileReader(f, strict=False)
            if reader.encrypted:
                raise EncryptedPdf(
                    "the PDF is encrypted or password-protected; send it unencrypted"
                )
            pages = reader.root["/Pages"]
            count = int(pages["/Count"])
        except (EncryptedPdf, NotAPdf):
            raise
        except (
            PdfError,
            KeyError,
            TypeError,
            ValueError,
            IndexError,
            OSError,
            RecursionError,
        ) as e:
            raise NotAPdf(f"the PDF cannot be read: {e}") from e
        except Exception as e:  # a malformed file must never pass as a PDF
            raise NotAPdf(f"the PDF cannot be read: {type(e).__name__}: {e}") from e
    if count < 1:
        raise NotAPdf("the PDF has no pages")
    if count > max_pages:
        raise NotAPdf(f"the PDF declares {count} pages; at most {max_pages} are accepted")
    return PdfFacts(page_count=count)
