"""What a posted edXML package does, through the same use cases as the JSON API:

- BussinessDocType 0, 2, 3: a document (``submit_files``: the same metadata rules,
  recipients, Idempotency-Key, supersession) with every attachment;
- BussinessDocType 1: a recall of the document the package names (routing's take-back);
- a status package: a status report on the caller's delivery of the document its
  ResponseFor names (routing's lifecycle, the same 409s).

The XML-DSig signature, when there is one, is verified by the signing service; the
verdict is recorded with the document and answered. An agency whose policy requires
signed packages has any other package refused.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from services.common.contract import Status, Verdict
from services.common.errors import Forbidden, NotFound, Unavailable, ValidationFailed
from services.common.internal_api import StatusReport, TakeBackRequest
from services.ingest.context import IngestContext
from services.ingest.edxml.errors import PackageRefused
from services.ingest.edxml.model import DocumentPackage, StatusPackage
from services.ingest.edxml.parse import is_status, read_document, read_status, value_of
from services.ingest.edxml.safexml import ReadPackage, read_package
from services.ingest.models import Agency, Delivery, Document
from services.ingest.projections import settle_reported_status
from services.ingest.submission import FilesSubmission, IncomingFile, submit_files
from services.ingest.times import iso
from services.ingest.validation import REPORTED_BY_RECIPIENT, check_status_parts

HEADER = "edXML/edXMLEnvelope/edXMLHeader"
MESSAGE = f"{HEADER}/MessageHeader"
BUSINESS = f"{HEADER}/TraceHeaderList/Bussiness"
SIGNATURE = f"{HEADER}/Signature"
_INDEX = re.compile(r"\[(\d+)\]")


def element_of(field: str) -> str:
    """The element a metadata field (as check_metadata names it) was read from."""
    if field.startswith(("edXML", "edXMLEnvelope")):  # already an element's path
        return field
    path = _INDEX.sub(lambda m: f"[{int(m[1]) + 1}]", field).replace(".", "/")
    if path == "Paper":
        return f"{BUSINESS}/Paper"
    if path.startswith("Bussiness"):
        return f"{HEADER}/TraceHeaderList/{path}"
    return f"{MESSAGE}/{path}"


def _named(error: ValidationFailed) -> ValidationFailed:
    """A metadata refusal, each problem naming its element."""
    for item in error.errors:
        item.setdefault("element", element_of(item.get("field", "")))
    if error.errors:
        error.extra.setdefault("element", error.errors[0]["element"])
    return error


def accept_package(
    ctx: IngestContext, sender: str, package: Path, idempotency_key: str | None
) -> dict[str, Any]:
    """Read, check and act on one spooled package; nothing it spooled is left behind."""
    read = read_package(package, ctx.settings.edxml, ctx.spool_dir)
    document: DocumentPackage | None = None
    try:
        # The cheap checks first: who sends, then the signature (the signing service).
        _check_from(sender, _from_of(read), f"{MESSAGE}/From/OrganId")
        signature = _signature(ctx, sender, package, read.signed)
        if is_status(read):
            return _status(ctx, sender, read_status(read), signature)
        document = read_document(read, ctx.settings.edxml, ctx.spool_dir)
        if document.business_doc_type.strip() == "1":
            return _recall(ctx, sender, document, signature)
        return _document(ctx, sender, document, signature, idempotency_key)
    finally:
        read.discard()
        if document is not None:
            document.discard()


def _from_of(read: ReadPackage) -> object:
    """The MessageHeader's From as metadata (a list when it is repeated), or None."""
    header = read.root.find("MessageHeader")
    found = header.all("From") if header is not None else []
    if len(found) > 1:
        return [value_of(node) for node in found]
    return value_of(found[0]) if found else None


def _check_from(sender: str, given: object, element: str) -> None:
    if isinstance(given, list):
        raise PackageRefused(element.removesuffix("/OrganId"), "appears more than once")
    organ = given.get("OrganId") if isinstance(given, dict) else None
    if isinstance(organ, str) and organ.strip() and organ.strip() != sender:
        raise Forbidden(
            f"From/OrganId {organ.strip()} is not the agency of this API key ({sender}): "
            "an agency posts its own packages only",
            element=element,
        )


def _signature(ctx: IngestContext, sender: str, package: Path, signed: bool) -> dict[str, Any]:
    with ctx.db.reading() as session:
        required = bool(
            session.scalar(sa.select(Agency.require_signed_packages).where(Agency.code == sender))
        )
    if not signed:
        if required:
            raise PackageRefused(
                SIGNATURE, f"is required: the policy of {sender} accepts signed packages only"
            )
        return {"verdict": Verdict.UNSIGNED.value, "signer": None, "reasons": []}
    try:
        check = ctx.xml_signatures.verify(package)
    except Unavailable as e:
        if required:
            raise
        # The package still travels; that its signature could not be checked is recorded.
        check = {
            "verdict": Verdict.INDETERMINATE.value,
            "signer": None,
            "reasons": [f"the signature could not be checked: {e.detail}"],
        }
    if required and check.get("verdict") != Verdict.VALID.value:
        reasons = "; ".join(str(r) for r in check.get("reasons") or [])
        raise PackageRefused(
            SIGNATURE,
            f"is {check.get('verdict')} ({reasons}); the policy of {sender} accepts "
            "validly signed packages only",
        )
    return check


def _document(
    ctx: IngestContext,
    sender: str,
    package: DocumentPackage,
    signature: dict[str, Any],
    idempotency_key: str | None,
) -> dict[str, Any]:
    files = tuple(
        IncomingFile(
            upload=a.upload,
            name=a.name,
            content_type=a.content_type,
            element=a.element or f"edXML/AttachmentEncoded/Attachment[{i}]",
            content_id=a.content_id,
            description=a.description,
            archive=a.archive,
        )
        for i, a in enumerate(package.attachments, start=1)
    )
    if not files:
        raise PackageRefused("edXML/AttachmentEncoded", "the document carries no attachment")
    try:
        accepted = submit_files(
            FilesSubmission(
                sender=sender,
                files=files,
                raw_metadata=_superseding(ctx, sender, package),
                document_id=package.document_id,
                idempotency_key=idempotency_key,
                package_signature=signature,
            ),
            db=ctx.db,
            agencies=ctx.known_agencies,
            store=ctx.store,
            max_pages=ctx.settings.max_pdf_pages,
        )
    except PackageRefused:
        raise
    except ValidationFailed as e:
        raise _named(e) from None
    kinds = {"2": "update", "3": "replace"}
    return {
        "action": kinds.get(package.business_doc_type.strip(), "document"),
        **accepted.body,
        "replayed": accepted.replayed,
        "recipients": _recipients(package.metadata),
        "attachments": [
            {"name": f.name, "content_type": f.content_type, "size": f.upload.size} for f in files
        ],
        "signature": signature,
    }


def _recipients(meta: dict[str, object]) -> list[str]:
    """The To OrganIds in the package's order (the metadata rules already checked them)."""
    to = meta.get("To")
    items = to if isinstance(to, list) else []
    return [
        t["OrganId"].strip()
        for t in items
        if isinstance(t, dict) and isinstance(t.get("OrganId"), str)
    ]


def _superseding(ctx: IngestContext, sender: str, package: DocumentPackage) -> dict[str, object]:
    """The metadata, with the document an update (2) or replacement (3) supersedes named:
    Bussiness/DocumentId when given, else the header's DocumentId when the sender already
    sent a document under it (the same document, sent again changed)."""
    meta = package.metadata
    if package.business_doc_type.strip() not in ("2", "3") or package.business.get("DocumentId"):
        return meta
    if package.document_id and sent_document(ctx, sender, package.document_id) is not None:
        return {**meta, "Bussiness": {**package.business, "DocumentId": package.document_id}}
    return meta


def sent_document(ctx: IngestContext, sender: str, document_id: str) -> Document | None:
    """The newest document ``sender`` sent under this edXML DocumentId."""
    with ctx.db.reading() as session:
        return session.scalars(
            sa.select(Document)
            .where(Document.sender_code == sender, Document.document_id == document_id)
            .order_by(Document.received_at.desc())
        ).first()


def _recall(
    ctx: IngestContext, sender: str, package: DocumentPackage, signature: dict[str, Any]
) -> dict[str, Any]:
    element = f"{BUSINESS}/DocumentId"
    reference = package.reference
    if not reference:
        raise PackageRefused(element, "a recall (BussinessDocType 1) names the DocumentId")
    doc = sent_document(ctx, sender, reference)
    if doc is None:
        raise NotFound(f"{reference} is not a document {sender} sent", element=element)
    reason = str(package.business.get("BussinessDocReason") or "")
    raw_staff = package.business.get("StaffInfo")
    staff = raw_staff if isinstance(raw_staff, dict) else {}
    try:
        check_status_parts(reason, staff, ctx.settings.common.limits, text_field="reason")
    except ValidationFailed as e:
        raise PackageRefused(f"{BUSINESS}/BussinessDocReason", e.detail) from e
    answer = ctx.routing.take_back(
        doc.id, TakeBackRequest(requested_by=sender, kind="recall", reason=reason, staff=staff)
    )
    return {
        "action": "recall",
        "id": doc.id,
        "document_id": doc.document_id,
        "deliveries": answer["deliveries"],
        "signature": signature,
    }


def _status(
    ctx: IngestContext, sender: str, status: StatusPackage, signature: dict[str, Any]
) -> dict[str, Any]:
    code = Status.of(status.status_code)
    if code is None:
        raise PackageRefused(
            f"{MESSAGE}/StatusCode", f"{status.status_code} is not an edXML status code"
        )
    document_id = status.response_for["DocumentId"]
    with ctx.db.reading() as session:
        found = session.execute(
            sa.select(Delivery, Document)
            .join(Document, Document.id == Delivery.document)
            .where(
                Document.document_id == document_id,
                Delivery.recipient_code == sender,
                Delivery.arrived_at.is_not(None),
            )
            .order_by(Delivery.arrived_at.desc())
        ).first()
    if found is None:
        raise NotFound(
            f"no document {document_id} has reached the inbox of {sender}",
            element=f"{MESSAGE}/ResponseFor/DocumentId",
        )
    delivery, doc = found
    answer: dict[str, Any] = {
        "action": "status",
        "delivery_id": delivery.delivery_id,
        "id": doc.id,
        "document_id": doc.document_id,
        "code": code.value,
        "timestamp": iso(status.timestamp),
        "signature": signature,
    }
    if code is Status.ARRIVED:
        # 01 is recorded by the platform when the copy reaches the inbox; a system's own
        # "arrived" message confirms it and changes nothing.
        return {**answer, "recorded": False, "status": delivery.status}
    if code not in REPORTED_BY_RECIPIENT:
        allowed = sorted(s.value for s in REPORTED_BY_RECIPIENT)
        raise PackageRefused(
            f"{MESSAGE}/StatusCode",
            f"a recipient reports one of {allowed} (a recall is a package with BussinessDocType 1)",
        )
    try:
        check_status_parts(status.description, status.staff, ctx.settings.common.limits)
    except ValidationFailed as e:
        field = e.errors[0]["field"] if e.errors else "description"
        where = "StaffInfo" if field == "staff" else "Description"
        raise PackageRefused(f"{MESSAGE}/{where}", e.detail) from e
    changed = ctx.routing.report_status(
        delivery.delivery_id,
        StatusReport(
            code=code,
            reported_by=sender,
            description=status.description,
            staff=status.staff,
            arrived_at=iso(delivery.arrived_at),
        ),
    )
    view = settle_reported_status(ctx.db, changed)
    return {**answer, "recorded": True, "status": view["status"], "seq": view["seq"]}
