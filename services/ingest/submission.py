"""Document submission: validate everything, store the bytes, record and announce."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypedDict

import sqlalchemy as sa

from services.common.bus.messages import DocumentReceived
from services.common.bus.outbox import add_to_outbox
from services.common.bus.topology import EVENTS
from services.common.db import Database
from services.common.errors import Conflict, ValidationFailed
from services.common.storage import ObjectStore, SpooledUpload, spool
from services.ingest.models import BUS, Document, DocumentAttachment, DocumentVersion
from services.ingest.registry import KnownAgencies
from services.ingest.times import iso, now
from services.ingest.validation import DocumentMetadata, check_metadata, check_pdf, named_agencies

log = logging.getLogger(__name__)


class AcceptedBody(TypedDict):
    """The answer to ``POST /v1/documents`` (and to its replays)."""

    id: str
    document_id: str
    sha256: str
    size: int
    page_count: int
    received_at: str | None


@dataclass(frozen=True)
class Accepted:
    body: AcceptedBody
    replayed: bool


@dataclass(frozen=True)
class Submission:
    """One ``POST /v1/documents``: who sends what, as the request carried it."""

    sender: str
    file: IO[bytes]
    raw_metadata: object  # parsed JSON, not yet validated
    idempotency_key: str | None = None


def submit_document(
    submission: Submission,
    *,
    db: Database,
    agencies: KnownAgencies,
    store: ObjectStore,
    spool_dir: Path,
    max_bytes: int,
    max_pages: int = 10_000,
) -> Accepted:
    """Validate everything, then store the bytes, then record and announce the document.
    Bytes stored for a document that then fails to be recorded are removed again."""
    sender, key = submission.sender, submission.idempotency_key
    known = agencies.known(named_agencies(submission.raw_metadata))
    meta = check_metadata(submission.raw_metadata, sender, known)
    supersedes = _superseded(db, sender, meta.supersedes_document_id)
    upload = spool(submission.file, spool_dir, max_bytes)
    try:
        facts = check_pdf(upload.path, max_pages)
        fingerprint = _fingerprint(upload, meta)
        if key:
            replay = _replay(db, sender, key, fingerprint)
            if replay:
                return replay
        store.put(upload)
    finally:
        upload.discard()
    doc = Document(
        id=str(uuid.uuid4()),
        document_id=meta.document_id(sender),
        sender_code=sender,
        recipients=list(meta.recipients),
        subject=meta.subject,
        sha256=upload.sha256,
        size=upload.size,
        page_count=facts.page_count,
        doc_metadata=meta.normalized,
        idempotency_key=key,
        request_fingerprint=fingerprint,
        received_at=now(),
        business_doc_type=meta.business_doc_type,
        supersedes=supersedes,
    )
    try:
        with db.unit_of_work() as session:
            session.add(doc)
            session.flush()
            add_to_outbox(session, BUS, _received(doc, meta), exchange=EVENTS.name)
    except sa.exc.IntegrityError:
        # The same Idempotency-Key raced us; the winner's answer is the answer.
        replay = _replay(db, sender, key, fingerprint) if key else None
        if replay:
            return replay
        _forget_unrecorded(db, store, upload.sha256)
        raise
    except BaseException:
        _forget_unrecorded(db, store, upload.sha256)
        raise
    return Accepted(_accepted_body(doc), replayed=False)


def _forget_unrecorded(db: Database, store: ObjectStore, sha256: str) -> None:
    """Remove the bytes this request stored when no row names them (an orphan): bytes
    another document or version has recorded stay. (Not asked beforehand whether the
    object was there: one more request to the store on every upload, for the rare
    case of the same bytes in flight in two requests while one of them fails.)"""
    try:
        with db.reading() as session:
            named = (
                session.scalar(sa.select(Document.id).where(Document.sha256 == sha256).limit(1))
                or session.scalar(
                    sa.select(DocumentVersion.id).where(DocumentVersion.sha256 == sha256).limit(1)
                )
                or session.scalar(
                    sa.select(DocumentAttachment.id)
                    .where(DocumentAttachment.sha256 == sha256)
                    .limit(1)
                )
            )
        if named is None:
            store.delete(sha256)
    except Exception:  # the original failure is what the client hears
        log.exception("object %s of a document that was not recorded could not be removed", sha256)


def _received(doc: Document, meta: DocumentMetadata) -> DocumentReceived:
    """The announcement, with the fields routing acts on already parsed and checked."""
    return DocumentReceived(
        document=doc.id,
        document_id=doc.document_id,
        sender=doc.sender_code,
        recipients=meta.recipients,
        sha256=doc.sha256,
        size=doc.size,
        received_at=iso(doc.received_at) or "",
        subject=meta.subject,
        priority=meta.priority,
        due_date=meta.due_date.isoformat() if meta.due_date else None,
        paper=meta.paper,
        business_doc_type=meta.business_doc_type,
        supersedes=doc.supersedes,
        business_reason=meta.business_reason,
        metadata=meta.normalized,
    )


def _fingerprint(upload: SpooledUpload, meta: DocumentMetadata) -> str:
    canonical = json.dumps(meta.normalized, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(upload.sha256.encode() + b"\n" + canonical).hexdigest()


def _accepted_body(doc: Document) -> AcceptedBody:
    return {
        "id": doc.id,
        "document_id": doc.document_id,
        "sha256": doc.sha256,
        "size": doc.size,
        "page_count": doc.page_count,
        "received_at": iso(doc.received_at),
    }


def _superseded(db: Database, sender: str, document_id: str | None) -> str | None:
    """The document an update or replacement supersedes: one this sender sent."""
    if document_id is None:
        return None
    with db.reading() as session:
        earlier = session.scalars(
            sa.select(Document.id)
            .where(Document.sender_code == sender, Document.document_id == document_id)
            .order_by(Document.received_at.desc())
        ).first()
    if earlier is None:
        raise ValidationFailed(
            "the superseded document is unknown",
            [
                {
                    "field": "Bussiness.DocumentId",
                    "message": f"{document_id} is not a document {sender} sent",
                }
            ],
        )
    return str(earlier)


def _replay(db: Database, sender: str, key: str, fingerprint: str) -> Accepted | None:
    with db.reading() as session:
        earlier = session.scalars(
            sa.select(Document).where(
                Document.sender_code == sender, Document.idempotency_key == key
            )
        ).first()
    if earlier is None:
        return None
    if earlier.request_fingerprint != fingerprint:
        raise Conflict(f"Idempotency-Key {key!r} was already used for a different document")
    return Accepted(_accepted_body(earlier), replayed=True)


# --- a document with several files (an edXML package) ---------------------------------


@dataclass(frozen=True)
class IncomingFile:
    """One file of a package, already spooled and hashed (the caller discards it)."""

    upload: SpooledUpload
    name: str
    content_type: str
    element: str  # where the package carried it, named when it is refused
    content_id: str = ""
    description: str = ""
    archive: str | None = None


@dataclass(frozen=True)
class FilesSubmission:
    """A document that arrived as files and metadata: the first readable PDF is the
    document (signed, verified, downloaded at ``/content``); without one, the first
    file is, and the document counts as unsigned. Every file travels."""

    sender: str
    files: tuple[IncomingFile, ...]
    raw_metadata: object
    document_id: str | None = None  # as the package carried it; else made from the metadata
    idempotency_key: str | None = None
    source: str = "edxml"
    package_signature: dict[str, object] | None = None


def _main_file(files: tuple[IncomingFile, ...], max_pages: int) -> tuple[int, int]:
    """(index of the document's main file, its page count: 0 when it is not a PDF)."""
    for i, item in enumerate(files):
        with item.upload.path.open("rb") as f:
            head = f.read(1024)
        if b"%PDF-" in head:
            try:
                return i, check_pdf(item.upload.path, max_pages).page_count
            except ValidationFailed as e:
                e.extra["element"] = item.element
                e.errors = [{"field": item.element, "message": e.detail}]
                e.extra["errors"] = e.errors
                raise
    return 0, 0


def submit_files(
    submission: FilesSubmission,
    *,
    db: Database,
    agencies: KnownAgencies,
    store: ObjectStore,
    max_pages: int = 10_000,
) -> Accepted:
    """Like :func:`submit_document` for a document of several files, none of them
    necessarily a PDF. Bytes stored for a document that then fails to be recorded
    are removed again."""
    sender, key, files = submission.sender, submission.idempotency_key, submission.files
    if not files:
        raise ValidationFailed(
            "the document has no file", [{"field": "AttachmentEncoded", "message": "is empty"}]
        )
    known = agencies.known(named_agencies(submission.raw_metadata))
    meta = check_metadata(submission.raw_metadata, sender, known)
    supersedes = _superseded(db, sender, meta.supersedes_document_id)
    main, page_count = _main_file(files, max_pages)
    document_id = submission.document_id or meta.document_id(sender)
    canonical = json.dumps(
        [meta.normalized, document_id, [(f.name, f.upload.sha256) for f in files]],
        sort_keys=True,
        ensure_ascii=False,
    ).encode()
    fingerprint = hashlib.sha256(canonical).hexdigest()
    if key:
        replay = _replay(db, sender, key, fingerprint)
        if replay:
            return replay
    stored: list[str] = []
    try:
        for item in files:
            store.put(item.upload)
            stored.append(item.upload.sha256)
        primary = files[main]
        doc = Document(
            id=str(uuid.uuid4()),
            document_id=document_id[:300],
            sender_code=sender,
            recipients=list(meta.recipients),
            subject=meta.subject,
            sha256=primary.upload.sha256,
            size=primary.upload.size,
            page_count=page_count,
            doc_metadata=meta.normalized,
            idempotency_key=key,
            request_fingerprint=fingerprint,
            received_at=now(),
            business_doc_type=meta.business_doc_type,
            supersedes=supersedes,
            content_type=None if page_count else primary.content_type,
            content_name=primary.name,
            source=submission.source,
            package_signature=submission.package_signature,
        )
        with db.unit_of_work() as session:
            session.add(doc)
            session.flush()
            for position, item in enumerate(files, start=1):
                session.add(
                    DocumentAttachment(
                        document=doc.id,
                        position=position,
                        name=item.name,
                        content_type=item.content_type,
                        content_id=item.content_id,
                        description=item.description,
                        archive=item.archive,
                        sha256=item.upload.sha256,
                        size=item.upload.size,
                        main=position == main + 1,
                    )
                )
            add_to_outbox(session, BUS, _received(doc, meta), exchange=EVENTS.name)
    except sa.exc.IntegrityError:
        replay = _replay(db, sender, key, fingerprint) if key else None
        if replay:
            return replay
        for sha256 in stored:
            _forget_unrecorded(db, store, sha256)
        raise
    except BaseException:
        for sha256 in stored:
            _forget_unrecorded(db, store, sha256)
        raise
    return Accepted(_accepted_body(doc), replayed=False)
