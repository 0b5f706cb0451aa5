"""From the reader's elements to a package: a document (with its attachments) or a
status message. Lenient where real packages are messy (either namespace, with or
without a prefix, attachments inside or outside the envelope, empty or missing
optional elements, whitespace, CDATA); strict only where nothing can be understood."""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path

from services.ingest.edxml.attachments import ZipLimits, is_zip, unzip
from services.ingest.edxml.errors import PackageRefused
from services.ingest.edxml.model import (
    Attachment,
    DocumentPackage,
    StatusPackage,
    parse_document_id,
    parse_timestamp,
)
from services.ingest.edxml.safexml import DSIG, Node, RawAttachment, ReadPackage
from services.ingest.settings import EdxmlSettings

#: (parent, child) pairs that are lists in the metadata, however many there are.
LISTS = frozenset(
    {
        ("MessageHeader", "To"),
        ("ToPlaces", "Place"),
        ("TraceHeaderList", "TraceHeader"),
        ("Appendixes", "Appendix"),
        ("ReplacementInfoList", "ReplacementInfo"),
    }
)
#: A media type as a header may carry it (type/subtype and plain parameters).
MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*(\s*;\s*[\w.+-]+=[\w.+-]+)*$")


def media_type(declared: str, name: str) -> str:
    """The declared type when it is one, else a guess from the name, else octet-stream."""
    declared = declared.strip()
    if declared and len(declared) <= 200 and MEDIA_TYPE.match(declared):
        return declared
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def value_of(node: Node) -> object:
    """An element as metadata: its text, or a dict of its children (lists where the
    standard repeats). Empty elements are left out, as if missing."""
    if not node.children:
        return node.text
    result: dict[str, object] = {}
    for child in node.children:
        if child.namespace == DSIG:
            continue
        value = value_of(child)
        if value in ("", {}, []):
            continue
        if (node.name, child.name) in LISTS:
            listed = result.setdefault(child.name, [])
            assert isinstance(listed, list)
            listed.append(value)
        elif child.name in result:
            earlier = result[child.name]
            result[child.name] = (
                [*earlier, value] if isinstance(earlier, list) else [earlier, value]
            )
        else:
            result[child.name] = value
    return result


def _header(root: Node) -> Node:
    header = root.find("MessageHeader")
    if header is None:
        raise PackageRefused(f"{root.path}/edXMLEnvelope/edXMLHeader/MessageHeader", "is missing")
    return header


def _texts(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(v, str)}


def read_status(read: ReadPackage) -> StatusPackage:
    header = _header(read.root)
    code = header.child("StatusCode")
    raw_code = code.text if code is not None else ""
    if not raw_code.isdigit() or len(raw_code) > 2:
        where = code.path if code is not None else f"{header.path}/StatusCode"
        raise PackageRefused(where, f"{raw_code!r} is not an edXML status code")
    stamp = header.child("Timestamp")
    timestamp = parse_timestamp(stamp.text) if stamp is not None and stamp.text else None
    if stamp is not None and stamp.text and timestamp is None:
        raise PackageRefused(stamp.path, "must be a timestamp as yyyy/MM/dd HH:mm:ss")
    response = header.child("ResponseFor")
    response_for = _texts(value_of(response)) if response is not None else {}
    if not response_for.get("DocumentId"):
        raise PackageRefused(f"{header.path}/ResponseFor/DocumentId", "is required")
    description = header.child("Description")
    staff = header.child("StaffInfo")
    staff_value = value_of(staff) if staff is not None else {}
    from_node = header.child("From")
    return StatusPackage(
        namespace=read.namespace,
        response_for=response_for,
        from_=_texts(value_of(from_node)) if from_node is not None else {},
        status_code=raw_code.zfill(2),
        description=description.text if description is not None else "",
        staff=staff_value if isinstance(staff_value, dict) else {},
        timestamp=timestamp,
        signed=read.signed,
    )


def is_status(read: ReadPackage) -> bool:
    header = read.root.find("MessageHeader")
    return header is not None and header.child("StatusCode") is not None


def _metadata(root: Node, header: Node) -> tuple[dict[str, object], str | None]:
    value = value_of(header)
    meta: dict[str, object] = value if isinstance(value, dict) else {}
    raw_id = meta.pop("DocumentId", None)
    document_id = raw_id.strip() if isinstance(raw_id, str) and raw_id.strip() else None
    trace = root.find("TraceHeaderList")
    if trace is not None:
        traced = value_of(trace)
        if isinstance(traced, dict):
            business = traced.pop("Bussiness", None)
            if traced:
                meta["TraceHeaderList"] = traced
            if isinstance(business, dict):
                meta["Bussiness"] = business
    business = meta.get("Bussiness")
    if isinstance(business, dict) and "Paper" in business:
        meta["Paper"] = business.pop("Paper")
    # Code and PromulgationDate the header left out, taken from a QCVN 102 DocumentId.
    parts = parse_document_id(document_id or "")
    if parts is not None:
        code = meta.get("Code")
        code = dict(code) if isinstance(code, dict) else {}
        code.setdefault("CodeNumber", parts.number)
        code.setdefault("CodeNotation", parts.notation)
        meta["Code"] = code
        info = meta.get("PromulgationInfo")
        info = dict(info) if isinstance(info, dict) else {}
        info.setdefault("PromulgationDate", f"{parts.day:%Y/%m/%d}")
        meta["PromulgationInfo"] = info
    return meta, document_id


def _described(raw: RawAttachment, references: dict[str, dict[str, str]], index: int) -> Attachment:
    """An attachment's name, type and description: its attributes, its children, then
    the manifest's Reference with the same ContentId."""
    node = raw.node
    fields = {k: v.strip() for k, v in node.attrs.items()}
    for child in node.children:
        if child.text and child.name not in fields:
            fields[child.name] = child.text
    content_id = fields.get("ContentId", "")
    reference = references.get(content_id.removeprefix("cid:"), {})
    name = (
        fields.get("AttachmentName")
        or fields.get("Name")
        or fields.get("FileName")
        or reference.get("AttachmentName")
        or content_id.removeprefix("cid:")
        or f"attachment-{index}"
    )
    content_type = media_type(fields.get("ContentType") or reference.get("ContentType") or "", name)
    description = fields.get("Description") or reference.get("Description") or ""
    return Attachment(
        name[:500], content_type, raw.upload, content_id[:300], description, element=node.path
    )


def _references(root: Node) -> dict[str, dict[str, str]]:
    manifest = root.find("edXMLManifest")
    if manifest is None:
        return {}
    found: dict[str, dict[str, str]] = {}
    for reference in manifest.all("Reference"):
        fields = {c.name: c.text for c in reference.children if c.text}
        fields.update({k: v.strip() for k, v in reference.attrs.items()})
        content_id = fields.get("ContentId", "").removeprefix("cid:")
        if content_id:
            found[content_id] = fields
    return found


def _opened(
    attachments: list[tuple[str, Attachment]], limits: EdxmlSettings, spool_dir: Path
) -> list[Attachment]:
    """Zipped attachments opened: each file in the archive travels as an attachment."""
    zip_limits = ZipLimits(
        limits.max_zip_members, limits.max_attachment_bytes, limits.max_zip_ratio
    )
    result: list[Attachment] = []
    try:
        for element, attachment in attachments:
            if not is_zip(attachment.name, attachment.content_type):
                result.append(attachment)
                continue
            for name, upload in unzip(attachment.upload, element, spool_dir, zip_limits):
                result.append(
                    Attachment(
                        name=name[:500],
                        content_type=media_type("", name),
                        upload=upload,
                        content_id=f"{attachment.content_id}/{name}"[:300],
                        description=attachment.description,
                        archive=attachment.name,
                        element=f"{element}[{name}]",
                    )
                )
            attachment.upload.discard()
            if len(result) > limits.max_attachments:
                raise PackageRefused(
                    element,
                    f"the package holds more than {limits.max_attachments} files once unzipped",
                )
    except BaseException:
        for attachment in result:
            attachment.upload.discard()
        for _, attachment in attachments:
            attachment.upload.discard()
        raise
    return result


def read_document(read: ReadPackage, limits: EdxmlSettings, spool_dir: Path) -> DocumentPackage:
    """A document package; its attachments (spooled, zips opened) belong to the caller."""
    header = _header(read.root)
    meta, document_id = _metadata(read.root, header)
    references = _references(read.root)
    described = [
        (raw.node.path, _described(raw, references, i))
        for i, raw in enumerate(read.attachments, start=1)
    ]
    attachments = _opened(described, limits, spool_dir)
    business = meta.get("Bussiness")
    doc_type = business.get("BussinessDocType") if isinstance(business, dict) else None
    return DocumentPackage(
        namespace=read.namespace,
        document_id=document_id,
        metadata=meta,
        business_doc_type=doc_type if isinstance(doc_type, str) else "0",
        attachments=tuple(attachments),
        signed=read.signed,
    )
