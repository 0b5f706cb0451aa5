"""Read queries behind the agency API: a document, its bytes, the inbox, a delivery."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NotRequired, TypedDict

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.common.contract import Status
from services.common.db import Database
from services.common.errors import Forbidden, NotFound
from services.common.storage import ObjectStore
from services.ingest.models import Delivery, Document, DocumentAttachment, DocumentVersion
from services.ingest.times import iso


class DeliveryView(TypedDict):
    OrganId: str
    delivery_id: str | None
    status: str | None
    status_at: str | None
    arrived_at: str | None


class AttachmentView(TypedDict):
    position: int
    name: str
    content_type: str
    size: int
    sha256: str
    main: bool
    archive: str | None


class VersionView(TypedDict):
    version: int
    sha256: str
    size: int
    profile: str | None
    level: NotRequired[str]  # signed versions only
    signer: NotRequired[str]
    signed_at: str | None


DocumentView = TypedDict(
    "DocumentView",
    {
        "id": str,
        "document_id": str,
        "from": str,
        "sha256": str,
        "size": int,
        "page_count": int,
        "received_at": str | None,
        "metadata": dict[str, object],  # the normalized edXML metadata, as received
        "verification": dict[str, object] | None,
        "versions": list[VersionView],
        "deliveries": list[DeliveryView],
        # A document that arrived as an edXML package: its files (GET .../attachments/{n})
        # and the package's XML-DSig verdict; empty and None for the JSON API's.
        "content_type": str,
        "attachments": list[AttachmentView],
        "package_signature": dict[str, object] | None,
    },
)

InboxItem = TypedDict(
    "InboxItem",
    {
        "delivery_id": str,
        "id": str,
        "document_id": str,
        "from": str,
        "subject": str,
        "status": str | None,
        "status_at": str | None,
        "received_at": str | None,
        "due_at": str | None,
        "due_soon_at": str | None,
        "overdue_at": str | None,
        "supersedes": str | None,
        "superseded_by": str | None,
    },
)


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


def _delivery_view(d: Delivery | None, recipient: str) -> DeliveryView:
    return {
        "OrganId": recipient,
        "delivery_id": d.delivery_id if d else None,
        "status": d.status if d else None,
        "status_at": iso(d.status_at) if d else None,
        "arrived_at": iso(d.arrived_at) if d else None,
    }


def _version_view(v: DocumentVersion) -> VersionView:
    return {
        "version": v.version,
        "sha256": v.sha256,
        "size": v.size,
        "profile": v.profile,
        "level": v.level,
        "signer": v.signer,
        "signed_at": iso(v.signed_at),
    }


def read_document(db: Database, agency: str, doc_id: str) -> DocumentView:
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
        received: VersionView = {
            "version": 1,
            "sha256": doc.sha256,
            "size": doc.size,
            "profile": None,
            "signed_at": None,
        }
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
            "versions": [received, *(_version_view(v) for v in versions)],
            "deliveries": [_delivery_view(rows.get(code), code) for code in visible],
            "content_type": doc.content_type or "application/pdf",
            "attachments": [
                {
                    "position": a.position,
                    "name": a.name,
                    "content_type": a.content_type,
                    "size": a.size,
                    "sha256": a.sha256,
                    "main": a.main,
                    "archive": a.archive,
                }
                for a in session.scalars(
                    sa.select(DocumentAttachment)
                    .where(DocumentAttachment.document == doc.id)
                    .order_by(DocumentAttachment.position)
                )
            ],
            "package_signature": doc.package_signature,
        }


def content_kind(db: Database, agency: str, doc_id: str) -> tuple[str, str]:
    """The media type and file name of a document's content as received (a PDF, unless
    an edXML package brought none)."""
    with db.reading() as session:
        doc = _readable_document(session, agency, doc_id)
    return doc.content_type or "application/pdf", doc.content_name or f"{doc_id}.pdf"


def document_content(
    db: Database, store: ObjectStore, agency: str, doc_id: str, *, version: int | None = None
) -> tuple[str, int, Iterator[bytes]]:
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


@dataclass(frozen=True)
class InboxFilter:
    sender: str | None = None
    since: datetime | None = None  # arrived at or after
    until: datetime | None = None  # arrived before
    overdue_at: datetime | None = None  # overdue at this moment and not completed
    words: str | None = None  # in the subject or the DocumentId (number/notation)

    def apply(self, query: Any) -> Any:
        if self.sender:
            query = query.where(Document.sender_code == self.sender)
        if self.since is not None:
            query = query.where(Delivery.arrived_at >= self.since)
        if self.until is not None:
            query = query.where(Delivery.arrived_at < self.until)
        if self.overdue_at is not None:
            query = query.where(
                Delivery.overdue_at.is_not(None),
                Delivery.overdue_at <= self.overdue_at,
                sa.or_(Delivery.status.is_(None), Delivery.status.not_in(("02", "06", "15"))),
            )
        if self.words:
            like = f"%{self.words}%"
            query = query.where(
                sa.or_(Document.subject.ilike(like), Document.document_id.ilike(like))
            )
        return query


def inbox(
    db: Database,
    agency: str,
    *,
    limit: int,
    status: str | None,
    include_taken_back: bool = False,
    filters: InboxFilter | None = None,
) -> list[InboxItem]:
    """Incoming deliveries, newest first. A document whose recall or replacement the
    agency accepted (15) leaves the active inbox unless asked for. ``filters`` narrows
    by sender, arrival period, overdue and words of the subject or number."""
    newer = sa.orm.aliased(Document)
    with db.reading() as session:
        query = (
            sa.select(Delivery, Document)
            .join(Document, Document.id == Delivery.document)
            .where(Delivery.recipient_code == agency, Delivery.arrived_at.is_not(None))
            .order_by(Delivery.arrived_at.desc(), Delivery.delivery_id)
            .limit(limit)
        )
        if filters is not None:
            query = filters.apply(query)
        if status:
            query = query.where(Delivery.status == status)
        elif not include_taken_back:
            query = query.where(
                sa.or_(Delivery.status.is_(None), Delivery.status != Status.TAKE_BACK_ACCEPTED)
            )
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


def readable_document(db: Database, agency: str, doc_id: str) -> Document:
    """A document ``agency`` sent or receives (the routing-backed views check this)."""
    with db.reading() as session:
        doc = session.get(Document, doc_id)
    if doc is None:
        raise NotFound(f"no document {doc_id}")
    if agency != doc.sender_code and agency not in doc.recipients:
        raise Forbidden(f"document {doc_id} is not addressed to {agency}")
    return doc
