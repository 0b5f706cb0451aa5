"""Routing a received document: one exchange, one delivery per recipient, each copy
dispatched to its recipient's queue, and the deliveries announced to the sender."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy.orm import Session

from services.common.bus.messages import (
    DeliveriesCreated,
    DeliveriesDispatched,
    DeliveryDispatched,
    DocumentReceived,
    DocumentsRouted,
)
from services.common.bus.outbox import add_folded_to_outbox
from services.common.bus.topology import AGENCY, EVENTS
from services.common.db import add_row, get_row
from services.routing import audit, statuses
from services.routing.deadlines.rules import due_at, due_soon_at
from services.routing.ledger import feed as ledger
from services.routing.models import BUS, Delivery, Exchange, SignatureVerdict
from services.routing.take_back import supersede


def route_document(session: Session, msg: DocumentReceived) -> None:
    """Once per document: a redelivered document.received finds its exchange and stops."""
    audit.lock_head(session)  # first: an update may lock the superseded deliveries below
    if get_row(session, Exchange, msg.document) is not None:
        return
    now = statuses.now()
    due_date = date.fromisoformat(msg.due_date) if msg.due_date else None
    exchange = Exchange(
        document=msg.document,
        document_id=msg.document_id,
        sender_code=msg.sender,
        sha256=msg.sha256,
        size=msg.size,
        subject=msg.subject,
        paper=msg.paper,
        priority=msg.priority,
        due_date=due_date,
        doc_metadata=msg.metadata,
        received_at=datetime.fromisoformat(msg.received_at),
        created_at=now,
    )
    add_row(session, exchange)
    audit.append(
        session,
        "exchange.created",
        document=msg.document,
        agency=msg.sender,
        payload={
            "document_id": msg.document_id,
            "sha256": msg.sha256,
            "recipients": list(msg.recipients),
            "paper": msg.paper,
        },
        at=now,
    )
    due = due_at(due_date, msg.priority, now)
    created: list[str] = []
    deliveries: list[Delivery] = []
    for recipient in msg.recipients:
        delivery_id = str(uuid.uuid4())
        delivery = Delivery(
            id=delivery_id,
            document=msg.document,
            recipient_code=recipient,
            seq=0,
            dispatched_at=now,
            due_at=due,
            due_soon_at=due_soon_at(due, now) if due else None,
        )
        session.add(delivery)
        deliveries.append(delivery)
        audit.append(
            session,
            "delivery.dispatched",
            document=msg.document,
            delivery=delivery_id,
            agency=recipient,
            payload={"due_at": due.isoformat() if due else None},
            at=now,
        )
        created.append(delivery_id)
        add_folded_to_outbox(
            session,
            BUS,
            DeliveryDispatched(
                delivery_id=delivery_id,
                document=msg.document,
                document_id=msg.document_id,
                sender=msg.sender,
                recipient=recipient,
                sha256=msg.sha256,
                size=msg.size,
                subject=msg.subject,
                dispatched_at=now.isoformat(),
            ),
            fold=DeliveriesDispatched.of,
            exchange=AGENCY.name,
            routing_key=recipient,
        )
    add_folded_to_outbox(
        session,
        BUS,
        DeliveriesCreated(
            document=msg.document,
            sender=msg.sender,
            delivery_ids=tuple(created),
            recipients=tuple(msg.recipients),
            created_at=now.isoformat(),
        ),
        fold=DocumentsRouted.of,
        exchange=EVENTS.name,
    )
    # The verdict may have come first (signing and routing read the same event).
    verdict = get_row(session, SignatureVerdict, msg.document)
    ledger.exchange_routed(
        session,
        exchange,
        deliveries,
        organization_signed=verdict.organization_signed if verdict else None,
        scanned=verdict.scanned if verdict else None,
    )
    supersede(session, exchange, msg)
