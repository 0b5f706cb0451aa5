"""Ingest's projections fed by the bus: the delivery rows behind inboxes and document
views, signed versions and arrival verdicts. A change an agency may be told about
queues its webhook push in the same transaction (services.ingest.webhook_store)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.common.bus.messages import (
    DeliveriesArrived,
    DeliveriesCreated,
    DeliveryArrived,
    DeliveryCreated,
    DeliveryDispatched,
    DeliveryDueSoon,
    DeliveryOverdue,
    DeliveryStatusChanged,
    DocumentSigned,
    DocumentVerified,
    Envelope,
    Message,
    unfold,
)
from services.common.bus.outbox import add_folded_to_outbox
from services.common.bus.topology import EVENTS
from services.common.db import (
    Database,
    get_locked,
    get_row,
    insert_all_if_absent,
    load_rows,
    lock_rows,
)
from services.common.errors import Conflict
from services.ingest import webhook_store
from services.ingest.models import BUS, Delivery, Document, DocumentVersion
from services.ingest.times import now as _now

_ONE_DELIVERY = (DeliveryDispatched, DeliveryStatusChanged, DeliveryDueSoon, DeliveryOverdue)


def _row(delivery_id: str, document: str, recipient: str, created_at: datetime) -> dict[str, Any]:
    return {
        "delivery_id": delivery_id,
        "document": document,
        "recipient_code": recipient,
        "status_seq": 0,
        "created_at": created_at,
    }


def lock_for_batch(session: Session, messages: list[Message]) -> None:
    """Before a batch of bus messages: make every delivery row they name (if missing)
    and lock them all, two statements for the batch instead of one or two per
    message. Rows are taken in id order, the order every batch uses. The documents
    the batch's verdicts and statuses name are read in one more query."""
    messages = unfold(messages)
    named = {
        m.delivery_id: (m.document, m.recipient) for m in messages if isinstance(m, _ONE_DELIVERY)
    }
    # A document's deliveries too: every row the batch inserts is taken in this one
    # sorted statement, or the connector and this consumer, inserting the same rows
    # in different orders, deadlock (PostgreSQL then takes a second to notice).
    for m in messages:
        if isinstance(m, DeliveriesCreated):
            for delivery_id, recipient in zip(m.delivery_ids, m.recipients, strict=True):
                named[delivery_id] = (m.document, recipient)
    created_at = _now()
    insert_all_if_absent(session, Delivery, [_row(i, *named[i], created_at) for i in named])
    lock_rows(session, Delivery, named)
    load_rows(
        session,
        Document,
        [m.document for m in messages if isinstance(m, DocumentVerified | DeliveryStatusChanged)],
    )


def _delivery_row(session: Session, delivery_id: str, document: str, recipient: str) -> Delivery:
    """The delivery's row, created if missing, locked for this transaction.

    The deliveries.created event and the dispatched copy race on two consumers; the
    insert ignores a row the other got in first, so both go through without a
    duplicate-key failure and a retry. Most calls find the row at the first look."""
    delivery: Delivery | None = get_locked(session, Delivery, delivery_id)
    if delivery is None:
        insert_all_if_absent(session, Delivery, [_row(delivery_id, document, recipient, _now())])
        delivery = get_locked(session, Delivery, delivery_id)
        if delivery is None:  # another delivery holds this document × recipient
            raise Conflict(
                f"delivery {delivery_id}: {recipient} already has another delivery of {document}"
            )
    return delivery


def on_deliveries_created(session: Session, msg: DeliveriesCreated, _env: Envelope) -> None:
    """A document's deliveries, so the sender sees them before they arrive: the rows
    are created if missing (the connector may have made some), in one statement."""
    created_at = _now()
    insert_all_if_absent(
        session,
        Delivery,
        [
            _row(delivery_id, msg.document, recipient, created_at)
            for delivery_id, recipient in zip(msg.delivery_ids, msg.recipients, strict=True)
        ],
    )


def on_delivery_created(session: Session, msg: DeliveryCreated, _env: Envelope) -> None:
    _delivery_row(session, msg.delivery_id, msg.document, msg.recipient)


def on_delivery_dispatched(session: Session, msg: DeliveryDispatched, _env: Envelope) -> None:
    """The connector: the recipient's copy lands in its inbox, and we report 01."""
    delivery = _delivery_row(session, msg.delivery_id, msg.document, msg.recipient)
    if delivery.arrived_at is not None:
        return
    arrived = _now()
    delivery.arrived_at = arrived
    if delivery.status is None:
        delivery.status, delivery.status_at = "01", arrived
    add_folded_to_outbox(
        session,
        BUS,
        DeliveryArrived(
            delivery_id=msg.delivery_id,
            recipient=msg.recipient,
            arrived_at=arrived.isoformat(),
        ),
        fold=DeliveriesArrived.of,
        exchange=EVENTS.name,
    )
    webhook_store.delivery_received(session, msg, delivery)


def apply_status(session: Session, msg: DeliveryStatusChanged) -> None:
    delivery = _delivery_row(session, msg.delivery_id, msg.document, msg.recipient)
    if msg.seq > delivery.status_seq:  # events may arrive late or twice; keep the newest
        delivery.status = msg.status
        delivery.status_seq = msg.seq
        delivery.status_at = datetime.fromisoformat(msg.at)
    # Pushed even when a later status got here first: the body's seq orders them.
    webhook_store.status_changed(session, msg)


def on_status_changed(session: Session, msg: DeliveryStatusChanged, _env: Envelope) -> None:
    apply_status(session, msg)


def record_reported_status(db: Database, changed: dict[str, Any]) -> dict[str, Any]:
    """Apply routing's answer to a status report at once (its event follows, and is a no-op)."""
    msg = DeliveryStatusChanged(
        **{
            k: changed[k]
            for k in (
                "delivery_id",
                "document",
                "recipient",
                "code",
                "status",
                "seq",
                "at",
                "reported_by",
                "description",
                "staff",
            )
        }
    )
    with db.unit_of_work() as session:
        apply_status(session, msg)
    return {
        "delivery_id": msg.delivery_id,
        "document": msg.document,
        "event": msg.code,
        "status": msg.status,
        "status_at": msg.at,
        "seq": msg.seq,
    }


def _utc(text: str) -> datetime:
    # SQLite keeps a datetime's wall time and drops its offset: store UTC only.
    return datetime.fromisoformat(text).astimezone(UTC)


def on_delivery_due_soon(session: Session, msg: DeliveryDueSoon, _env: Envelope) -> None:
    """routing's scheduler: the delivery is nearly due; marked in the inbox and pushed."""
    delivery = _delivery_row(session, msg.delivery_id, msg.document, msg.recipient)
    delivery.due_at = _utc(msg.due_at)
    if delivery.due_soon_at is None:
        delivery.due_soon_at = _utc(msg.noticed_at)
    webhook_store.deadline_noticed(session, msg, overdue=False)


def on_delivery_overdue(session: Session, msg: DeliveryOverdue, _env: Envelope) -> None:
    """routing's scheduler: the delivery is past due; pushed to the recipient and,
    as an escalation, to the sender."""
    delivery = _delivery_row(session, msg.delivery_id, msg.document, msg.recipient)
    delivery.due_at = _utc(msg.due_at)
    if delivery.overdue_at is None:
        delivery.overdue_at = _utc(msg.noticed_at)
    webhook_store.deadline_noticed(session, msg, overdue=True)


def on_document_signed(session: Session, msg: DocumentSigned, _env: Envelope) -> None:
    exists = session.scalars(
        sa.select(DocumentVersion).where(
            DocumentVersion.document == msg.document, DocumentVersion.version == msg.version
        )
    ).first()
    if exists is None:
        session.add(
            DocumentVersion(
                document=msg.document,
                version=msg.version,
                sha256=msg.sha256,
                size=msg.size,
                profile=msg.profile,
                level=msg.level,
                signer=msg.signer,
                signed_at=datetime.fromisoformat(msg.signed_at),
            )
        )


def on_document_verified(session: Session, msg: DocumentVerified, _env: Envelope) -> None:
    doc = get_row(session, Document, msg.document)
    if doc is None or doc.sha256 != msg.sha256:
        return  # a verdict on a later version is kept by signing; ours is on arrival
    doc.verdict = msg.verdict
    doc.verification = {
        "verdict": msg.verdict,
        "signature_count": msg.signature_count,
        "signers": list(msg.signers),
        "verified_at": msg.verified_at,
        "organization_signed": msg.organization_signed,
        "reasons": list(msg.reasons),
    }
