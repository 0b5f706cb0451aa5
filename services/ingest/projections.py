"""Ingest's projections fed by the bus: the delivery rows behind inboxes and document
views, signed versions and arrival verdicts. A change an agency may be told about
queues its webhook push in the same transaction (services.ingest.webhooks.store)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TypedDict

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.common.bus.envelope import Envelope
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
)
from services.common.bus.outbox import add_folded_to_outbox
from services.common.bus.topology import EVENTS
from services.common.contract import Status
from services.common.db import Database, get_locked, get_row, insert_all_if_absent
from services.common.errors import Conflict
from services.ingest.models import BUS, Delivery, Document, DocumentVersion
from services.ingest.times import now as _now
from services.ingest.webhooks import store as webhook_store

log = logging.getLogger(__name__)


def new_delivery_row(
    delivery_id: str, document: str, recipient: str, created_at: datetime
) -> dict[str, object]:
    """A delivery row as a batch or a handler inserts it when missing."""
    return {
        "delivery_id": delivery_id,
        "document": document,
        "recipient_code": recipient,
        "status_seq": 0,
        "created_at": created_at,
    }


def _delivery_row(session: Session, delivery_id: str, document: str, recipient: str) -> Delivery:
    """The delivery's row, created if missing, locked for this transaction.

    The deliveries.created event and the dispatched copy race on two consumers; the
    insert ignores a row the other got in first, so both go through without a
    duplicate-key failure and a retry. Most calls find the row at the first look."""
    delivery: Delivery | None = get_locked(session, Delivery, delivery_id)
    if delivery is None:
        insert_all_if_absent(
            session, Delivery, [new_delivery_row(delivery_id, document, recipient, _now())]
        )
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
            new_delivery_row(delivery_id, msg.document, recipient, created_at)
            for delivery_id, recipient in zip(msg.delivery_ids, msg.recipients, strict=True)
        ],
    )


def on_delivery_created(session: Session, msg: DeliveryCreated, _env: Envelope) -> None:
    _delivery_row(session, msg.delivery_id, msg.document, msg.recipient)


def on_delivery_dispatched(session: Session, msg: DeliveryDispatched, _env: Envelope) -> None:
    """The connector: the recipient's copy lands in its inbox. Status 01 is recorded
    here, once, as the delivery's first status (seq 1): routing records it from
    delivery.arrived and does not announce it back, so its pushes are queued here too."""
    delivery = _delivery_row(session, msg.delivery_id, msg.document, msg.recipient)
    if delivery.arrived_at is not None:
        return
    arrived = _now()
    delivery.arrived_at = arrived
    arrival = arrival_status(msg, arrived)
    if delivery.status_seq < arrival.seq:  # a later status may have got here first
        delivery.status, delivery.status_seq, delivery.status_at = Status.ARRIVED, 1, arrived
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
    webhook_store.status_changed(session, arrival)


def arrival_status(msg: DeliveryDispatched, arrived: datetime) -> DeliveryStatusChanged:
    """Status 01 as routing records it: the first event of a delivery, by its recipient."""
    return DeliveryStatusChanged(
        delivery_id=msg.delivery_id,
        document=msg.document,
        recipient=msg.recipient,
        code=Status.ARRIVED,
        status=Status.ARRIVED,
        seq=1,
        at=arrived.isoformat(),
        reported_by=msg.recipient,
        description="",
        staff={},
    )


def apply_status(session: Session, msg: DeliveryStatusChanged) -> None:
    """A status routing recorded. A 01 announced by older routing finds the connector's
    own 01 (same seq): nothing changes and its push is the one already queued."""
    delivery = _delivery_row(session, msg.delivery_id, msg.document, msg.recipient)
    if msg.seq > delivery.status_seq:  # events may arrive late or twice; keep the newest
        delivery.status = msg.status
        delivery.status_seq = msg.seq
        delivery.status_at = datetime.fromisoformat(msg.at)
    # Pushed even when a later status got here first: the body's seq orders them.
    webhook_store.status_changed(session, msg)


def on_status_changed(session: Session, msg: DeliveryStatusChanged, _env: Envelope) -> None:
    apply_status(session, msg)


class StatusView(TypedDict):
    """The answer to ``POST /v1/deliveries/{id}/status``."""

    delivery_id: str
    document: str
    event: str
    status: str | None
    status_at: str
    seq: int


def record_reported_status(db: Database, changed: DeliveryStatusChanged) -> StatusView:
    """Apply routing's answer to a status report at once (its event follows, and is a no-op)."""
    with db.unit_of_work() as session:
        apply_status(session, changed)
    return status_view(changed)


def settle_reported_status(db: Database, changed: DeliveryStatusChanged) -> StatusView:
    """``record_reported_status`` once routing has committed the status: a failure here
    (the database, a push) cannot turn the committed change into an error for the agency.
    It is logged, and routing's event applies the same change when it arrives."""
    try:
        return record_reported_status(db, changed)
    except Exception:
        log.exception(
            "delivery %s: status %s is committed at routing; recording it here failed and "
            "is left to routing's event",
            changed.delivery_id,
            changed.code,
        )
        return status_view(changed)


def status_view(changed: DeliveryStatusChanged) -> StatusView:
    return {
        "delivery_id": changed.delivery_id,
        "document": changed.document,
        "event": changed.code,
        "status": changed.status,
        "status_at": changed.at,
        "seq": changed.seq,
    }


def on_delivery_due_soon(session: Session, msg: DeliveryDueSoon, _env: Envelope) -> None:
    """routing's scheduler: the delivery is nearly due; marked in the inbox and pushed."""
    delivery = _delivery_row(session, msg.delivery_id, msg.document, msg.recipient)
    delivery.due_at = datetime.fromisoformat(msg.due_at)
    if delivery.due_soon_at is None:
        delivery.due_soon_at = datetime.fromisoformat(msg.noticed_at)
    webhook_store.deadline_noticed(session, msg, overdue=False)


def on_delivery_overdue(session: Session, msg: DeliveryOverdue, _env: Envelope) -> None:
    """routing's scheduler: the delivery is past due; pushed to the recipient and,
    as an escalation, to the sender."""
    delivery = _delivery_row(session, msg.delivery_id, msg.document, msg.recipient)
    delivery.due_at = datetime.fromisoformat(msg.due_at)
    if delivery.overdue_at is None:
        delivery.overdue_at = datetime.fromisoformat(msg.noticed_at)
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
