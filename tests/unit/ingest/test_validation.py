"""services/ingest/validation.py: agency codes, edXML metadata and the PDF itself."""

from __future__ import annotations

import copy
import csv
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from services.common.errors import ValidationFailed
from services.ingest.errors import EncryptedPdf, NotAPdf
from services.ingest.validation import check_agency_code, check_metadata, check_pdf, named_agencies
from testkit.pdfs import write_pdf
from testkit.stack import CORPUS

REAL = CORPUS / "pdf-real"
PYHANKO = CORPUS / "pdf-pyhanko"
PASSWORD_PDF = REAL / "005-libreoffice-writer-password" / "libreoffice-writer-password.pdf"

SENDER = "000.00.00.H41"
RECIPIENT = "000.00.00.G22"
OTHER = "001.00.99.H44"
KNOWN = {SENDER, RECIPIENT, OTHER}


# --- agency codes -------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    ["000.00.00.H41", "001.00.99.H44", "000.00.00.G22", "000.01.23.A01", "12.34.56.Z99"],
)
def test_standard_agency_codes(code: str) -> None:
    checked = check_agency_code(code)
    assert checked.code == code
    assert checked.standard


def test_standard_code_is_trimmed() -> None:
    checked = check_agency_code("  000.00.00.H41\n")
    assert checked.code == "000.00.00.H41"
    assert checked.standard


@pytest.mark.parametrize(
    "code", ["H41.12", "UBND-HCM-01", "000.00.00.h41", "000.00.00.H4", "SNV_2024", "h41"]
)
def test_non_standard_codes_are_accepted_and_flagged(code: str) -> None:
    checked = check_agency_code(code)
    assert checked.code == code
    assert not checked.standard


@pytest.mark.parametrize(
    "code",
    [
        "",
        "   ",
        "abc",
        "UBND-HCM",
        "000 00 00 H41",
        "H41 12",
        "-H41.12",
        ".000.00.00.H41",
        "ờ41",
        "x" * 64 + "1",
        "H41/12",
        "5",
    ],
)
def test_not_agency_codes(code: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_agency_code(code)
    assert caught.value.status == 422


# --- metadata -------------------------------------------------------------------


def valid_metadata() -> dict[str, Any]:
    """A complete example with the edXML field names (QCVN 102:2016)."""
    return {
        "From": {"OrganId": SENDER, "OrganName": "UBND tỉnh Quảng Ninh"},
        "To": [{"OrganId": RECIPIENT, "OrganName": "Văn phòng Chính phủ"}, {"OrganId": OTHER}],
        "Code": {"CodeNumber": "7816", "CodeNotation": "UBND-TTĐT"},
        "PromulgationInfo": {"Place": "Quảng Ninh", "PromulgationDate": "2015-09-30"},
        "DocumentType": {"Type": "1", "TypeName": "Công văn"},
        "Subject": "Về việc triển khai dịch vụ công trực tuyến",
        "SignerInfo": {
            "Competence": "TM. UBND",
            "Position": "Chủ tịch",
            "FullName": "Nguyễn Văn A",
        },
        "DueDate": "2015/10/15",
        "OtherInfo": {"Priority": 2, "PageAmount": 3},
        "SteeringType": 1,
        "Paper": 0,
    }


def _errors(meta: Any, sender: str = SENDER, known: set[str] | None = None) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        check_metadata(meta, sender, KNOWN if known is None else known)
    assert caught.value.status == 422
    assert caught.value.to_problem()["errors"] == caught.value.errors
    return {e["field"]: e["message"] for e in caught.value.errors}


def test_valid_metadata_is_normalized() -> None:
    meta = valid_metadata()
    original = copy.deepcopy(meta)
    checked = check_metadata(meta, SENDER, KNOWN)

    assert meta == original  # the input is not modified
    assert checked.recipients == (RECIPIENT, OTHER)
    assert checked.code_number == "7816"
    assert checked.code_notation == "UBND-TTĐT"
    assert checked.subject == "Về việc triển khai dịch vụ công trực tuyến"
    assert checked.promulgation_date == date(2015, 9, 30)
    assert checked.due_date == date(2015, 10, 15)
    assert (checked.priority, checked.steering_type, checked.paper) == (2, 1, 0)
    normalized = checked.normalized
    assert normalized["PromulgationInfo"] == {
        "Place": "Quảng Ninh",
        "PromulgationDate": "2015/09/30",
    }
    assert normalized["DueDate"] == "2015/10/15"
    assert normalized["From"] == {"OrganId": SENDER, "OrganName": "UBND tỉnh Quảng Ninh"}
    assert normalized["OtherInfo"] == {"Priority": 2, "PageAmount": 3}
    assert normalized["SteeringType"] == 1
    assert normalized["Paper"] == 0
    assert normalized["Subject"] == meta["Subject"]


def test_document_id_follows_the_edxml_pattern() -> None:
    checked = check_metadata(valid_metadata(), SENDER, KNOWN)
    assert checked.document_id(SENDER) == "000.00.00.H41,2015/09/30,7816/UBND-TTĐT"


def test_minimal_metadata_gets_defaults() -> None:
    meta = valid_metadata()
    for optional in ("From", "DueDate", "OtherInfo", "SteeringType", "Paper"):
        del meta[optional]
    meta["DocumentType"] = {"TypeName": "Quyết định"}
    meta["Code"]["CodeNumber"] = 12  # a number is accepted as text
    meta["PromulgationInfo"]["PromulgationDate"] = "2024/02/29"

    checked = check_metadata(meta, SENDER, KNOWN)

    assert checked.normalized["From"] == {"OrganId": SENDER}  # filled in from the caller
    assert checked.due_date is None
    assert checked.normalized["DueDate"] is None
    assert (checked.priority, checked.steering_type, checked.paper) == (0, 0, 0)
    assert checked.normalized["OtherInfo"] == {"Priority": 0}
    assert checked.document_id(SENDER) == "000.00.00.H41,2024/02/29,12/UBND-TTĐT"


def test_due_date_on_the_promulgation_day_is_accepted() -> None:
    meta = valid_metadata()
    meta["DueDate"] = "2015/09/30"
    assert check_metadata(meta, SENDER, KNOWN).due_date == date(2015, 9, 30)


@pytest.mark.parametrize("value", ["1", " 1 ", 1])
def test_priority_as_text_or_number(value: Any) -> None:
    meta = valid_metadata()
    meta["OtherInfo"]["Priority"] = value
    assert check_metadata(meta, SENDER, KNOWN).priority == 1


def test_every_missing_required_field_is_listed() -> None:
    errors = _errors({})
    assert set(errors) == {
        "To",
        "Code.CodeNumber",
        "Code.CodeNotation",
        "Subject",
        "DocumentType",
        "PromulgationInfo.Place",
        "PromulgationInfo.PromulgationDate",
        "SignerInfo.FullName",
    }


@pytest.mark.parametrize(
    "path",
    [
        "Code.CodeNumber",
        "Code.CodeNotation",
        "Subject",
        "PromulgationInfo.Place",
        "PromulgationInfo.PromulgationDate",
        "SignerInfo.FullName",
    ],
)
def test_each_required_field_alone(path: str) -> None:
    meta = valid_metadata()
    *parents, leaf = path.split(".")
    node = meta
    for part in parents:
        node = node[part]
    node[leaf] = "   "  # blank counts as missing
    assert set(_errors(meta)) == {path}


def test_document_type_needs_type_or_name() -> None:
    meta = valid_metadata()
    meta["DocumentType"] = {"TypeDetail": "x"}
    assert set(_errors(meta)) == {"DocumentType"}


@pytest.mark.parametrize("meta", [None, [], "metadata", 42])
def test_metadata_must_be_an_object(meta: Any) -> None:
    with pytest.raises(ValidationFailed, match="JSON object"):
        check_metadata(meta, SENDER, KNOWN)


def test_unknown_recipient() -> None:
    meta = valid_metadata()
    meta["To"].append({"OrganId": "000.00.00.H99"})
    errors = _errors(meta)
    assert set(errors) == {"To[2].OrganId"}
    assert "000.00.00.H99" in errors["To[2].OrganId"]
    assert "not a registered agency" in errors["To[2].OrganId"]


def test_duplicate_recipient() -> None:
    meta = valid_metadata()
    meta["To"].append({"OrganId": f" {RECIPIENT} "})
    errors = _errors(meta)
    assert set(errors) == {"To[2].OrganId"}
    assert "twice" in errors["To[2].OrganId"]


def test_sending_to_self() -> None:
    meta = valid_metadata()
    meta["To"] = [{"OrganId": SENDER}]
    errors = _errors(meta)
    assert set(errors) == {"To[0].OrganId"}
    assert "itself" in errors["To[0].OrganId"]


@pytest.mark.parametrize("to", [None, [], {}, "000.00.00.G22", {"OrganId": RECIPIENT}])
def test_to_must_be_a_non_empty_list(to: Any) -> None:
    meta = valid_metadata()
    meta["To"] = to
    assert set(_errors(meta)) == {"To"}


@pytest.mark.parametrize("item", [{}, {"OrganId": ""}, {"OrganId": 5}, "000.00.00.G22", None])
def test_each_recipient_needs_an_organ_id(item: Any) -> None:
    meta = valid_metadata()
    meta["To"] = [{"OrganId": RECIPIENT}, item]
    assert set(_errors(meta)) == {"To[1].OrganId"}


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("OtherInfo.Priority", 5),
        ("OtherInfo.Priority", -1),
        ("OtherInfo.Priority", "high"),
        ("OtherInfo.Priority", True),
        ("OtherInfo.Priority", 1.5),
        ("OtherInfo.Priority", "01"),
        ("SteeringType", 3),
        ("SteeringType", "x"),
        ("SteeringType", False),
        ("Paper", 2),
        ("Paper", "yes"),
        ("Paper", True),
        ("Paper", [1]),
    ],
)
def test_bad_small_integers(where: str, value: Any) -> None:
    meta = valid_metadata()
    if where.startswith("OtherInfo."):
        meta["OtherInfo"]["Priority"] = value
    else:
        meta[where] = value
    errors = _errors(meta)
    assert set(errors) == {where}
    assert "must be one of" in errors[where]


@pytest.mark.parametrize(
    "value", ["30/09/2015", "2015.09.30", "2015/02/30", "yesterday", 20150930, "2015/09/30 10:00"]
)
def test_bad_promulgation_date(value: Any) -> None:
    meta = valid_metadata()
    meta["PromulgationInfo"]["PromulgationDate"] = value
    assert set(_errors(meta)) == {"PromulgationInfo.PromulgationDate"}


def test_due_date_before_promulgation_date() -> None:
    meta = valid_metadata()
    meta["DueDate"] = "2015/09/29"
    errors = _errors(meta)
    assert set(errors) == {"DueDate"}
    assert "before" in errors["DueDate"]


def test_bad_due_date() -> None:
    meta = valid_metadata()
    meta["DueDate"] = "soon"
    assert set(_errors(meta)) == {"DueDate"}


def test_from_organ_id_must_be_the_caller() -> None:
    meta = valid_metadata()
    meta["From"]["OrganId"] = OTHER
    errors = _errors(meta)
    assert set(errors) == {"From.OrganId"}
    assert SENDER in errors["From.OrganId"]


def test_text_that_is_too_long() -> None:
    meta = valid_metadata()
    meta["Code"]["CodeNumber"] = "9" * 51
    assert set(_errors(meta)) == {"Code.CodeNumber"}


def test_text_fields_must_be_text() -> None:
    meta = valid_metadata()
    meta["Subject"] = {"vi": "Trích yếu"}
    errors = _errors(meta)
    assert errors == {"Subject": "must be text"}


def test_several_problems_are_reported_together() -> None:
    meta = valid_metadata()
    meta["To"] = [{"OrganId": SENDER}, {"OrganId": "000.00.00.X00"}]
    meta["Subject"] = ""
    meta["Paper"] = 7
    meta["From"]["OrganId"] = RECIPIENT
    errors = _errors(meta)
    assert set(errors) == {"To[0].OrganId", "To[1].OrganId", "Subject", "Paper", "From.OrganId"}


@pytest.mark.parametrize("sender_field", ["000.00.00.H41", ["000.00.00.H41"], 7])
def test_from_that_is_not_an_object_never_crashes(sender_field: Any) -> None:
    """check_metadata promises ValidationFailed "listing every problem" for bad metadata.

    A ``From`` given as the bare OrganId (a plausible client mistake) must either be
    reported or be replaced by the caller; it must not escape as a TypeError (which
    the API turns into a 500).
    """
    meta = valid_metadata()
    meta["From"] = sender_field
    try:
        checked = check_metadata(meta, SENDER, KNOWN)
    except ValidationFailed as e:
        assert "From" in {err["field"].split(".")[0] for err in e.errors}
    else:
        assert checked.normalized["From"] == {"OrganId": SENDER}


# --- the PDF ------------------------------------------------------------------------


def _manifest(folder: Path) -> list[dict[str, str]]:
    with (folder / "MANIFEST.tsv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _real_pdfs() -> list[str]:
    rows = _manifest(REAL) if REAL.is_dir() else []
    return [r["path"] for r in rows if "password" not in r["path"]]


def _malformed_pdfs() -> list[str]:
    rows = _manifest(PYHANKO) if PYHANKO.is_dir() else []
    return [r["path"] for r in rows if r["category"] == "malformed"]


def test_the_corpus_is_there() -> None:
    assert REAL.is_dir(), f"the test corpus is missing at {CORPUS}"
    assert PASSWORD_PDF.is_file()
    assert len(_real_pdfs()) >= 20
    assert len(_malformed_pdfs()) >= 8


@pytest.mark.parametrize("relative", _real_pdfs())
def test_real_pdfs_pass(relative: str) -> None:
    facts = check_pdf(REAL / relative)
    assert facts.page_count >= 1


def test_page_count_is_read() -> None:
    assert check_pdf(REAL / "004-pdflatex-4-pages" / "pdflatex-4-pages.pdf").page_count == 4
    assert check_pdf(REAL / "001-trivial" / "minimal-document.pdf").page_count == 1


def test_password_protected_pdf_is_refused() -> None:
    with pytest.raises(EncryptedPdf) as caught:
        check_pdf(PASSWORD_PDF)
    assert caught.value.status == 422
    assert caught.value.code == "encrypted_pdf"


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(NotAPdf, match="empty"):
        check_pdf(empty)


@pytest.mark.parametrize(
    "content",
    [
        b"Hello, this is a text file named .pdf\n" * 20,
        b"PK\x03\x04" + b"\x00" * 200,  # a .docx
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 200,
        b"<html><body>%PDF</body></html>",
    ],
)
def test_not_a_pdf(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "document.pdf"
    path.write_bytes(content)
    with pytest.raises(NotAPdf) as caught:
        check_pdf(path)
    assert caught.value.code == "not_a_pdf"


@pytest.mark.parametrize(
    "relative",
    [
        "001-trivial/minimal-document.pdf",
        "004-pdflatex-4-pages/pdflatex-4-pages.pdf",
        "011-google-doc-document/google-doc-document.pdf",
        "023-cmyk-image/cmyk-image.pdf",
    ],
)
@pytest.mark.parametrize("keep", [3000, 1024, 100])
def test_truncated_pdf(tmp_path: Path, relative: str, keep: int) -> None:
    whole = (REAL / relative).read_bytes()
    assert len(whole) > keep
    path = tmp_path / "truncated.pdf"
    path.write_bytes(whole[:keep])
    with pytest.raises(NotAPdf):
        check_pdf(path)


def test_pdf_header_only(tmp_path: Path) -> None:
    path = tmp_path / "header.pdf"
    path.write_bytes(b"%PDF-1.7\n")
    with pytest.raises(NotAPdf):
        check_pdf(path)


def _hand_made_pdf(kids: str, count: int) -> bytes:
    """A minimal PDF with a correct cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    return write_pdf(objects)


def test_a_hand_made_pdf_with_one_page_passes(tmp_path: Path) -> None:
    path = tmp_path / "one-page.pdf"
    path.write_bytes(_hand_made_pdf("3 0 R", 1))
    assert check_pdf(path).page_count == 1


def test_a_pdf_without_pages_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "no-pages.pdf"
    path.write_bytes(_hand_made_pdf("", 0))
    with pytest.raises(NotAPdf, match="no pages"):
        check_pdf(path)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("relative", _malformed_pdfs())
def test_malformed_pdfs_give_a_clear_verdict(relative: str) -> None:
    try:
        facts = check_pdf(PYHANKO / relative)
    except NotAPdf as e:
        assert e.detail
    else:
        assert facts.page_count >= 1


def test_named_agencies_are_the_codes_to_look_up() -> None:
    meta = {
        "To": [{"OrganId": " 000.00.01.H01 "}, {"OrganId": ""}, {"x": 1}, "bad", {"OrganId": 7}]
    }
    assert named_agencies(meta) == {"000.00.01.H01"}
    assert named_agencies({"To": "000.00.01.H01"}) == set()
    assert named_agencies(["not", "a", "dict"]) == set()
