"""A stored document, or a delivery's latest status, as an edXML package. A document
that arrived as JSON (one PDF) is emitted with that PDF as its one attachment; one
that arrived as a package, with every attachment in the package's order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from services.common.db import Database
from services.common.errors import Forbidden, NotFound
from services.common.storage import ObjectStore
from services.ingest.edxml.emit import OutgoingAttachment, document_package, status_package
from services.ingest.edxml.model import format_timestamp
from services.ingest.models import (
    Agency,
    Delivery,
    Document,
    DocumentAttachment,
    DocumentVersion,
)
from services.ingest.ports import RoutingPort
from services.ingest.queries import readable_document


def attachments_of(db: Database, doc: Document) -> list[DocumentAttachment]:
    with db.reading() as session:
        return list(
            session.scalars(
                sa.select(DocumentAttachment)
                .where(DocumentAttachment.document == doc.id)
                .order_by(DocumentAttachment.position)
            )
        )


def _latest(db: Database, doc: Document) -> str:
    """The bytes of the document as it now is: its newest signed version, else as received."""
    with db.reading() as session:
        newest = session.scalar(
            sa.select(DocumentVersion.sha256)
            .where(DocumentVersion.document == doc.id)
            .order_by(DocumentVersion.version.desc())
            .limit(1)
        )
    return newest or doc.sha256


def _outgoing(db: Database, store: ObjectStore, doc: Document) -> list[OutgoingAttachment]:
    """The files, the document's main one as it now is (signed by the platform since)."""
    rows = attachments_of(db, doc)
    latest = _latest(db, doc)
    if not rows:  # a document posted as JSON: its PDF
        code = doc.doc_metadata.get("Code")
        number = code.get("CodeNumber") if isinstance(code, dict) else None
        name = f"{number or doc.id}.pdf".replace("/", "-")
        return [OutgoingAttachment(name, "application/pdf", doc.id, "", store.iter_bytes(latest))]
    return [
        OutgoingAttachment(
            row.name,
            row.content_type,
            row.content_id,
            row.description,
            store.iter_bytes(latest if row.main else row.sha256),
        )
        for row in rows
    ]


def _trace(doc: Document) -> list[dict[str, str]]:
    trace = doc.doc_metadata.get("TraceHeaderList")
    items = trace.get("TraceHeader") if isinstance(trace, dict) else None
    if isinstance(items, list) and items:
        return [dict(item) for item in items if isinstance(item, dict)]
    return [{"OrganId": doc.sender_code, "Timestamp": format_timestamp(doc.received_at)}]


def document_export(
    db: Database, store: ObjectStore, agency: str, doc_id: str, *, signature_slot: bool = False
) -> tuple[Document, Iterator[bytes]]:
    """The document (which ``agency`` sent or receives) and its package, in pieces."""
    doc = readable_document(db, agency, doc_id)
    package = document_package(
        dict(doc.doc_metadata),
        document_id=doc.document_id,
        business_doc_type=doc.business_doc_type,
        trace=_trace(doc),
        attachments=_outgoing(db, store, doc),
        signature_slot=signature_slot,
    )
    return doc, package


def _response_for(doc: Document) -> dict[str, str]:
    meta = doc.doc_metadata
    code = meta.get("Code") if isinstance(meta.get("Code"), dict) else {}
    info = meta.get("PromulgationInfo") if isinstance(meta.get("PromulgationInfo"), dict) else {}
    assert isinstance(code, dict) and isinstance(info, dict)
    number, notation = code.get("CodeNumber"), code.get("CodeNotation")
    found = {
        "OrganId": doc.sender_code,
        "Code": f"{number}/{notation}" if number and notation else "",
        "PromulgationDate": str(info.get("PromulgationDate") or ""),
        "DocumentId": doc.document_id,
    }
    return {k: v for k, v in found.items() if v}


def status_export(
    db: Database,
    routing: RoutingPort,
    agency: str,
    delivery_id: str,
    *,
    signature_slot: bool = False,
) -> tuple[dict[str, Any], bytes]:
    """The delivery's latest status as a status package; ``agency`` is its document's
    sender or its recipient. Also the event it was made from."""
    with db.reading() as session:
        delivery = session.get(Delivery, delivery_id)
        doc = session.get(Document, delivery.document) if delivery else None
        if delivery is None or doc is None:
            raise NotFound(f"no delivery {delivery_id}")
        if agency not in (doc.sender_code, delivery.recipient_code):
            raise Forbidden(f"delivery {delivery_id} is neither from nor to {agency}")
    timeline = routing.timeline(doc.id)
    events = [e for e in timeline["events"] if e["delivery_id"] == delivery_id]
    if not events:
        raise NotFound(f"delivery {delivery_id} has no status yet")
    event = max(events, key=lambda e: e["seq"])
    with db.reading() as session:
        name = session.scalar(sa.select(Agency.name).where(Agency.code == event["reported_by"]))
    from_ = {"OrganId": event["reported_by"], **({"OrganName": name} if name else {})}
    package = status_package(
        response_for=_response_for(doc),
        from_=from_,
        staff=dict(event["staff"]),
        status_code=event["code"],
        description=event["description"],
        timestamp=datetime.fromisoformat(event["at"]),
        signature_slot=signature_slot,
    )
    return dict(event), package
