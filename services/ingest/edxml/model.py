"""What an edXML package says, in the API's own terms (pure: no I/O).

A document package's metadata is the same dict ``POST /v1/documents`` takes (edXML
field names, ``services.ingest.validation.check_metadata``), so both doors share one
set of rules. Dates (``YYYY/MM/DD``) and timestamps (``yyyy/MM/dd HH:mm:ss``) are
Vietnam time (UTC+07:00, no daylight saving).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone

from services.common.storage import SpooledUpload

VIETNAM = timezone(timedelta(hours=7), "ICT")
TIMESTAMP = "%Y/%m/%d %H:%M:%S"

#: ``{OrganId},{YYYY/MM/DD},{number}/{notation}``; the notation may hold further '/'.
DOCUMENT_ID = re.compile(
    r"^\s*(?P<organ>[^,\s][^,]*?)\s*,\s*(?P<day>\d{4}/\d{1,2}/\d{1,2})\s*,"
    r"\s*(?P<number>[^/]*?)\s*/\s*(?P<notation>.+?)\s*$"
)


@dataclass(frozen=True)
class DocumentIdParts:
    organ: str
    day: date
    number: str
    notation: str

    def __str__(self) -> str:
        return format_document_id(self.organ, self.day, self.number, self.notation)


def format_document_id(organ: str, day: date, number: str, notation: str) -> str:
    return f"{organ},{day.year:04d}/{day.month:02d}/{day.day:02d},{number}/{notation}"


def parse_document_id(text: str) -> DocumentIdParts | None:
    """The parts of a QCVN 102 DocumentId, or None (a UUID, or any other form: carried)."""
    match = DOCUMENT_ID.match(text or "")
    if match is None:
        return None
    try:
        day = datetime.strptime(match["day"], "%Y/%m/%d").date()
    except ValueError:
        return None
    return DocumentIdParts(match["organ"], day, match["number"], match["notation"])


def parse_timestamp(text: str) -> datetime | None:
    """``yyyy/MM/dd HH:mm:ss`` as Vietnam time (also ISO 8601, with or without an
    offset); None when it is neither."""
    raw = (text or "").strip()
    if not raw or len(raw) > 40:
        return None
    for fmt in (TIMESTAMP, "%Y/%m/%d %H:%M", "%Y/%m/%d"):
        try:
            return datetime.strptime(raw, fmt).replace(tzinfo=VIETNAM)
        except ValueError:
            continue
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=VIETNAM)


def format_timestamp(moment: datetime) -> str:
    """A moment as edXML writes it: Vietnam wall-clock time."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(VIETNAM).strftime(TIMESTAMP)


@dataclass(frozen=True)
class Attachment:
    """One file of a package, spooled (the caller discards it)."""

    name: str
    content_type: str
    upload: SpooledUpload
    content_id: str = ""
    description: str = ""
    archive: str | None = None  # the zipped attachment it came out of
    element: str = ""  # where the package carried it (named when it is refused)


@dataclass(frozen=True)
class DocumentPackage:
    """BussinessDocType 0 (new), 1 (recall), 2 (update) or 3 (replace)."""

    namespace: str
    document_id: str | None  # as the package carried it (any form)
    metadata: dict[str, object]  # the JSON API's metadata
    business_doc_type: str  # as written; check_metadata reads it
    attachments: tuple[Attachment, ...]
    signed: bool

    @property
    def business(self) -> dict[str, object]:
        value = self.metadata.get("Bussiness")
        return value if isinstance(value, dict) else {}

    @property
    def reference(self) -> str | None:
        """The document a recall, update or replacement is about: Bussiness/DocumentId,
        else (a recall) the header's DocumentId."""
        named = self.business.get("DocumentId")
        if isinstance(named, str) and named.strip():
            return named.strip()
        return self.document_id

    def discard(self) -> None:
        for attachment in self.attachments:
            attachment.upload.discard()


@dataclass(frozen=True)
class StatusPackage:
    """A status message: the recipient's StatusCode about the document ResponseFor names."""

    namespace: str
    response_for: dict[str, str]  # OrganId, Code, PromulgationDate, DocumentId
    from_: dict[str, str]
    status_code: str
    description: str
    staff: dict[str, object]
    timestamp: datetime | None
    signed: bool
    attachments: tuple[Attachment, ...] = field(default=())

    def discard(self) -> None:
        for attachment in self.attachments:
            attachment.upload.discard()
