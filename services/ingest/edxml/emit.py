"""Writing packages (pure: the attachments' bytes come in as iterators).

A document package is written as it is sent, attachment by attachment, base64 line by
line, so a large document is never held whole. The namespace is QCVN 102's, with the
``edXML:`` prefix real systems write; ``signature_slot`` leaves the place in the
header where the signing service puts the XML-DSig signature.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape

import pybase64

from services.ingest.edxml.model import format_timestamp
from services.ingest.edxml.safexml import DSIG, QCVN_102

#: The MessageHeader's elements in the standard's order; others follow as they come.
HEADER_ORDER = (
    "From",
    "To",
    "DocumentId",
    "Code",
    "PromulgationInfo",
    "DocumentType",
    "Subject",
    "Content",
    "SignerInfo",
    "DueDate",
    "ToPlaces",
    "OtherInfo",
    "SteeringType",
    "ResponseFor",
)
#: Kept elsewhere in the package (TraceHeaderList), or not edXML at all.
NOT_IN_HEADER = frozenset({"TraceHeaderList", "Bussiness", "Paper"})
XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]{0,99}$")
LINE = 57 * 1024  # bytes per base64 piece (a multiple of 3: no padding inside)


@dataclass(frozen=True)
class OutgoingAttachment:
    name: str
    content_type: str
    content_id: str
    description: str
    chunks: Iterable[bytes]


def _text(value: object) -> str:
    return escape(str(value), {'"': "&quot;"})


def element(name: str, value: object, indent: int) -> Iterator[str]:
    """``value`` as edXML: a dict's keys become children, a list repeats the element,
    text is escaped. Keys that are not XML names (JSON-only extras) are left out."""
    if value is None or value in ("", {}, []) or not XML_NAME.match(name):
        return
    pad = "  " * indent
    if isinstance(value, list):
        for item in value:
            yield from element(name, item, indent)
    elif isinstance(value, dict):
        yield f"{pad}<edXML:{name}>\n"
        for key, child in value.items():
            yield from element(str(key), child, indent + 1)
        yield f"{pad}</edXML:{name}>\n"
    else:
        if isinstance(value, bool):
            value = int(value)
        yield f"{pad}<edXML:{name}>{_text(value)}</edXML:{name}>\n"


def _open(namespace: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<edXML:edXML xmlns:edXML="{namespace}">\n'


def _signature_slot(indent: int) -> str:
    return f'{"  " * indent}<ds:Signature xmlns:ds="{DSIG}" Id="placeholder"/>\n'


def document_package(
    metadata: dict[str, object],
    *,
    document_id: str,
    business_doc_type: int,
    trace: list[dict[str, str]],
    attachments: list[OutgoingAttachment],
    namespace: str = QCVN_102,
    signature_slot: bool = False,
) -> Iterator[bytes]:
    """A document as a package, piece by piece (UTF-8)."""
    yield _open(namespace).encode()
    header: list[str] = ["  <edXML:edXMLEnvelope>\n", "    <edXML:edXMLHeader>\n"]
    fields = {**metadata, "DocumentId": document_id}
    header.append("      <edXML:MessageHeader>\n")
    ordered = [k for k in HEADER_ORDER if k in fields]
    ordered += [k for k in fields if k not in HEADER_ORDER and k not in NOT_IN_HEADER]
    for key in ordered:
        header.extend(element(key, fields[key], 4))
    header.append("      </edXML:MessageHeader>\n")
    raw_business = metadata.get("Bussiness")
    business = dict(raw_business) if isinstance(raw_business, dict) else {}
    business.setdefault("BussinessDocType", business_doc_type)
    business["Paper"] = metadata.get("Paper", 0)
    header.append("      <edXML:TraceHeaderList>\n")
    for hop in trace:
        header.extend(element("TraceHeader", hop, 4))
    header.extend(element("Bussiness", business, 4))
    header.append("      </edXML:TraceHeaderList>\n")
    if signature_slot:
        header.append(_signature_slot(3))
    header.append("    </edXML:edXMLHeader>\n    <edXML:edXMLBody>\n      <edXML:edXMLManifest>\n")
    for item in attachments:
        reference = {
            "ContentId": item.content_id,
            "ContentType": item.content_type,
            "Description": item.description,
            "AttachmentName": item.name,
        }
        header.extend(element("Reference", reference, 4))
    header.append("      </edXML:edXMLManifest>\n    </edXML:edXMLBody>\n")
    header.append("  </edXML:edXMLEnvelope>\n  <edXML:AttachmentEncoded>\n")
    yield "".join(header).encode()
    for item in attachments:
        described = {
            "ContentId": item.content_id,
            "AttachmentName": item.name,
            "ContentType": item.content_type,
            "Description": item.description,
        }
        yield b"    <edXML:Attachment>\n"
        yield "".join(line for k, v in described.items() for line in element(k, v, 3)).encode()
        yield b"      <edXML:Content>"
        yield from _base64(item.chunks)
        yield b"</edXML:Content>\n    </edXML:Attachment>\n"
    yield b"  </edXML:AttachmentEncoded>\n</edXML:edXML>\n"


def _base64(chunks: Iterable[bytes]) -> Iterator[bytes]:
    pending = b""
    for chunk in chunks:
        pending += chunk
        whole = len(pending) - len(pending) % LINE
        if whole:
            yield pybase64.b64encode(pending[:whole]) + b"\n"
            pending = pending[whole:]
    if pending:
        yield pybase64.b64encode(pending)


def status_package(
    *,
    response_for: dict[str, str],
    from_: dict[str, str],
    staff: dict[str, object],
    status_code: str,
    description: str,
    timestamp: datetime,
    namespace: str = QCVN_102,
    signature_slot: bool = False,
) -> bytes:
    """A status message about one delivery."""
    parts = [_open(namespace), "  <edXML:edXMLEnvelope>\n    <edXML:edXMLHeader>\n"]
    parts.append("      <edXML:MessageHeader>\n")
    parts.extend(element("ResponseFor", response_for, 4))
    parts.extend(element("From", from_, 4))
    plain_staff = {k: v for k, v in staff.items() if isinstance(v, str | int | dict)}
    parts.extend(element("StaffInfo", plain_staff, 4))
    parts.extend(element("StatusCode", status_code, 4))
    parts.extend(element("Description", description, 4))
    parts.extend(element("Timestamp", format_timestamp(timestamp), 4))
    parts.append("      </edXML:MessageHeader>\n")
    if signature_slot:
        parts.append(_signature_slot(3))
    parts.append("    </edXML:edXMLHeader>\n  </edXML:edXMLEnvelope>\n</edXML:edXML>\n")
    return "".join(parts).encode()
