"""Ingest's use cases, shared by the HTTP views, the CLI and the bus consumers."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.common.auth import hash_api_key, new_api_key
from services.common.bus.messages import AgencyRegisteredV2, DocumentReceived
from services.common.bus.outbox import add_to_outbox
from services.common.bus.topology import EVENTS
from services.common.db import Database
from services.common.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from services.common.storage import ObjectStore, SpooledUpload, spool
from services.ingest.models import BUS, Agency, ApiKey, Delivery, Document, DocumentVersion

# The bus projections live in their own module; these names stay importable from here.
from services.ingest.projections import (  # noqa: F401
    apply_status,
    lock_for_batch,
    on_deliveries_created,
    on_delivery_created,
    on_delivery_dispatched,
    on_delivery_due_soon,
    on_delivery_overdue,
    on_document_signed,
    on_document_verified,
    on_status_changed,
    record_reported_status,
)
from services.ingest.registry import KnownAgencies
from services.ingest.times import iso, now
from services.ingest.validation import (
    check_agency_code,
    check_mailbox,
    check_metadata,
    check_pdf,
    named_agencies,
)

_now = now


# --- agencies and keys ------------------------------------------------------


@dataclass(frozen=True)
class RegisteredAgency:
    code: str
    name: str
    parent_code: str | None
    nonstandard_code: bool


def add_agency(
    db: Database, code: str, name: str, parent: str | None = None, email: str | None = None
) -> RegisteredAgency:
    checked = check_agency_code(code)
    email = check_mailbox(email)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("the agency name is blank")
    with db.unit_of_work() as session:
        if session.get(Agency, checked.code):
            raise Conflict(f"agency {checked.code} is already registered")
        if parent and not session.get(Agency, parent):
            raise ValidationFailed(f"parent agency {parent} is not registered")
        session.add(
            Agency(
                code=checked.code,
                name=name,
                parent_code=parent or None,
                nonstandard_code=not checked.standard,
                email=email,
                created_at=_now(),
            )
        )
        add_to_outbox(
            session,
            BUS,
            AgencyRegisteredV2(
                code=checked.code,
                name=name,
                parent_code=parent or None,
                nonstandard_code=not checked.standard,
                email=email,
            ),
            exchange=EVENTS.name,
        )
    return RegisteredAgency(checked.code, name, parent or None, not checked.standard)


def list_agencies(db: Database) -> list[RegisteredAgency]:
    with db.reading() as session:
        rows = session.scalars(sa.select(Agency).order_by(Agency.code)).all()
        return [RegisteredAgency(a.code, a.name, a.parent_code, a.nonstandard_code) for a in rows]


def create_api_key(db: Database, code: str, label: str = "") -> str:
    key = new_api_key()
    with db.unit_of_work() as session:
        if not session.get(Agency, code):
            raise NotFound(f"agency {code} is not registered")
        session.add(
            ApiKey(agency_code=code, key_hash=hash_api_key(key), label=label, created_at=_now())
        )
    return key


def revoke_api_keys(db: Database, code: str, label: str) -> int:
    with db.unit_of_work() as session:
        result = session.execute(
            sa.update(ApiKey)
            .where(ApiKey.agency_code == code, ApiKey.label == label, ApiKey.revoked_at.is_(None))
            .values(revoked_at=_now())
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- documents --------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    body: dict[str, Any]
    replayed: bool


def _fingerprint(upload: SpooledUpload, metadata: dict[str, Any]) -> str:
    canonical = json.dumps(metadata, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(upload.sha256.encode() + b"\n" + canonical).hexdigest()


def _accepted_body(doc: Document) -> dict[str, Any]:
    return {
        "id": doc.id,
        "document_id": doc.document_id,
        "sha256": doc.sha256,
        "size": doc.size,
        "page_count": doc.page_count,
        "received_at": iso(doc.received_at),
    }


def submit_document(
    db: Database,
    agencies: KnownAgencies,
    store: ObjectStore,
    spool_dir: Path,
    sender: str,
    file: IO[bytes],
    raw_metadata: Any,
    max_bytes: int,
    idempotency_key: str | None,
) -> Accepted:
    """Validate everything, then store the bytes, then record and announce the document."""
    known = agencies.known(named_agencies(raw_metadata))
    meta = check_metadata(raw_metadata, sender, known)
    supersedes = _superseded(db, sender, meta.supersedes_document_id)
    upload = spool(file, spool_dir, max_bytes)
    try:
        facts = check_pdf(upload.path)
        fingerprint = _fingerprint(upload, meta.normalized)
        if idempotency_key:
            replay = _replay(db, sender, idempotency_key, fingerprint)
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
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        received_at=_now(),
        business_doc_type=meta.business_doc_type,
        supersedes=supersedes,
    )
    try:
        with db.unit_of_work() as session:
            session.add(doc)
            session.flush()
            add_to_outbox(
                session,
                BUS,
                DocumentReceived(
                    document=doc.id,
                    document_id=doc.document_id,
                    sender=sender,
                    recipients=meta.recipients,
                    sha256=doc.sha256,
                    size=doc.size,
                    received_at=iso(doc.received_at) or "",
                    metadata=meta.normalized,
                ),
                exchange=EVENTS.name,
            )
    except sa.exc.IntegrityError:
        # The same Idempotency-Key raced us; the winner's answer is the answer.
        if idempotency_key:
            replay = _replay(db, sender, idempotency_key, fingerprint)
            if replay:
                return replay
        raise
    return Accepted(_accepted_body(doc), replayed=False)


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


def _readable_document(session: Session, agency: str, doc_id: str) -> Document:
    try:
        uuid.UUID(doc_id)
    except ValueError as e:
        raise NotFound(f"no document {doc_id}") from e
    doc = session.get(Document, doc_id)
    if doc is None:
        raise NotFound(f"no document {doc_id}")
    if agency != doc.sender_code and agency not in doc.recipients:
        raise Forbidden(f"document {doc_id} is not addressed to {agency}")
    return doc


def _delivery_view(d: Delivery | None, recipient: str) -> dict[str, Any]:
    return {
        "OrganId": recipient,
        "delivery_id": d.delivery_id if d else None,
        "status": d.status if d else None,
        "status_at": iso(d.status_at) if d else None,
        "arrived_at": iso(d.arrived_at) if d else None,
    }


def read_document(db: Database, agency: str, doc_id: str) -> dict[str, Any]:
    with db.reading() as session:
        doc = _readable_document(session, agency, doc_id)
        rows = {
            d.recipient_code: d
            for d in session.scalars(sa.select(Delivery).where(Delivery.document == doc.id))
        }
        visible = doc.recipients if agency == doc.sender_code else [agency]
        versions = session.scalars(
            sa.select(DocumentVersion)
            .where(DocumentVersion.document == doc.id)
            .order_by(DocumentVersion.version)
        ).all()
        return {
            "id": doc.id,
            "document_id": doc.document_id,
            "from": doc.sender_code,
            "sha256": doc.sha256,
            "size": doc.size,
            "page_count": doc.page_count,
            "received_at": iso(doc.received_at),
            "metadata": doc.doc_metadata,
            "verification": doc.verification,
            "versions": [
                {
                    "version": 1,
                    "sha256": doc.sha256,
                    "size": doc.size,
                    "profile": None,
                    "signed_at": None,
                },
                *(
                    {
                        "version": v.version,
                        "sha256": v.sha256,
                        "size": v.size,
                        "profile": v.profile,
                        "level": v.level,
                        "signer": v.signer,
                        "signed_at": iso(v.signed_at),
                    }
                    for v in versions
                ),
            ],
            "deliveries": [_delivery_view(rows.get(code), code) for code in visible],
        }


def document_content(
    db: Database, store: ObjectStore, agency: str, doc_id: str, version: int | None = None
) -> tuple[str, int, Any]:
    """The bytes of a version (the latest when none is asked for): sha256, size, chunks."""
    with db.reading() as session:
        doc = _readable_document(session, agency, doc_id)
        query = sa.select(DocumentVersion).where(DocumentVersion.document == doc.id)
        if version is None:
            chosen = session.scalars(query.order_by(DocumentVersion.version.desc())).first()
        elif version == 1:
            chosen = None
        else:
            chosen = session.scalars(query.where(DocumentVersion.version == version)).first()
            if chosen is None:
                raise NotFound(f"document {doc_id} has no version {version}")
    sha256, size = (chosen.sha256, chosen.size) if chosen else (doc.sha256, doc.size)
    return sha256, size, store.iter_bytes(sha256)


def inbox(
    db: Database, agency: str, limit: int, status: str | None, include_taken_back: bool = False
) -> list[dict[str, Any]]:
    """Incoming deliveries, newest first. A document whose recall or replacement the
    agency accepted (15) leaves the active inbox unless asked for."""
    newer = sa.orm.aliased(Document)
    with db.reading() as session:
        query = (
            sa.select(Delivery, Document)
            .join(Document, Document.id == Delivery.document)
            .where(Delivery.recipient_code == agency, Delivery.arrived_at.is_not(None))
            .order_by(Delivery.arrived_at.desc(), Delivery.delivery_id)
            .limit(limit)
        )
        if status:
            query = query.where(Delivery.status == status)
        elif not include_taken_back:
            query = query.where(sa.or_(Delivery.status.is_(None), Delivery.status != "15"))
        superseded_by = dict(
            session.execute(
                sa.select(newer.supersedes, newer.id)
                .where(newer.supersedes.is_not(None))
                .where(
                    newer.supersedes.in_(
                        sa.select(Delivery.document).where(Delivery.recipient_code == agency)
                    )
                )
                .order_by(newer.received_at)
            ).all()
        )
        return [
            {
                "delivery_id": d.delivery_id,
                "id": doc.id,
                "document_id": doc.document_id,
                "from": doc.sender_code,
                "subject": doc.subject,
                "status": d.status,
                "status_at": iso(d.status_at),
                "received_at": iso(d.arrived_at),
                "due_at": iso(d.due_at),
                "due_soon_at": iso(d.due_soon_at),
                "overdue_at": iso(d.overdue_at),
                "supersedes": doc.supersedes,
                "superseded_by": superseded_by.get(doc.id),
            }
            for d, doc in session.execute(query).all()
        ]


def delivery_for_recipient(db: Database, agency: str, delivery_id: str) -> Delivery:
    with db.reading() as session:
        delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.arrived_at is None:
        raise NotFound(f"no delivery {delivery_id} in the inbox of {agency}")
    if delivery.recipient_code != agency:
        raise Forbidden(f"delivery {delivery_id} is not addressed to {agency}")
    return delivery
