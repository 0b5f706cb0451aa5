"""Routing's read side: a delivery with its events, an exchange, a document's timeline."""

from __future__ import annotations

from typing import TypedDict

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.common.db import Database
from services.common.errors import NotFound
from services.common.internal_api import StaffInfo, Timeline
from services.routing.models import Delivery, Exchange, StatusEvent


class EventView(TypedDict):
    seq: int
    code: str
    status_after: str | None
    at: str
    reported_by: str
    description: str
    staff: StaffInfo


class DeliveryView(TypedDict):
    delivery_id: str
    document: str
    recipient: str
    status: str | None
    seq: int
    events: list[EventView]


class ExchangeView(TypedDict):
    document: str
    document_id: str
    sender: str
    sha256: str


def _event(e: StatusEvent) -> EventView:
    return {
        "seq": e.seq,
        "code": e.code,
        "status_after": e.status_after,
        "at": e.at.isoformat(),
        "reported_by": e.reported_by,
        "description": e.description,
        "staff": e.staff,
    }


def _exchange(session: Session, document: str) -> Exchange:
    exchange = session.get(Exchange, document)
    if exchange is None:
        raise NotFound(f"no exchange for document {document}")
    return exchange


def delivery_view(db: Database, delivery_id: str) -> DeliveryView:
    with db.reading() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None:
            raise NotFound(f"no delivery {delivery_id}")
        events = session.scalars(
            sa.select(StatusEvent)
            .where(StatusEvent.delivery_id == delivery_id)
            .order_by(StatusEvent.seq)
        ).all()
        return {
            "delivery_id": delivery.id,
            "document": delivery.document,
            "recipient": delivery.recipient_code,
            "status": delivery.status,
            "seq": delivery.seq,
            "events": [_event(e) for e in events],
        }


def timeline(db: Database, document: str) -> Timeline:
    """Every event of every delivery of a document, in the order they happened."""
    with db.reading() as session:
        exchange = _exchange(session, document)
        rows = session.execute(
            sa.select(StatusEvent, Delivery.recipient_code)
            .join(Delivery, Delivery.id == StatusEvent.delivery_id)
            .where(Delivery.document == document)
            .order_by(StatusEvent.at, StatusEvent.recorded_at, StatusEvent.id)
        ).all()
        deliveries = session.scalars(
            sa.select(Delivery)
            .where(Delivery.document == document)
            .order_by(Delivery.recipient_code)
        ).all()
        return {
            "document": document,
            "document_id": exchange.document_id,
            "sender": exchange.sender_code,
            "sent_at": exchange.received_at.isoformat(),
            "supersedes": exchange.supersedes,
            "deliveries": [
                {
                    "delivery_id": d.id,
                    "OrganId": d.recipient_code,
                    "status": d.status,
                    "due_at": d.due_at.isoformat() if d.due_at else None,
                    "take_back": d.take_back_kind,
                    "replaced_by": d.replaced_by,
                }
                for d in deliveries
            ],
            "events": [
                {"delivery_id": e.delivery_id, "OrganId": recipient, **_event(e)}
                for e, recipient in rows
            ],
        }


def exchange_view(db: Database, document: str) -> ExchangeView:
    with db.reading() as session:
        exchange = _exchange(session, document)
        return {
            "document": exchange.document,
            "document_id": exchange.document_id,
            "sender": exchange.sender_code,
            "sha256": exchange.sha256,
        }
