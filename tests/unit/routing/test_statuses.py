"""Status 01 is recorded once, where the connector put the copy in the inbox: routing
records it (event, audit record, seq 1) but does not announce it back; every other
status is announced on lt.events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from services.common.bus.envelope import parse, read_envelope, unfold, wrap
from services.common.bus.messages import DeliveryArrived, DeliveryStatusChanged, DocumentReceived
from services.common.contract import Status
from services.common.db import Database
from services.common.internal_api import StatusReport
from services.routing import consumers
from services.routing.audit import verify_chain
from services.routing.models import BUS, AuditRecord, Delivery, StatusEvent
from services.routing.statuses import report_status

SENDER, RECIPIENT = "000.00.00.H41", "000.00.01.H41"


@pytest.fixture
def db(routing_sqlite: Database) -> Database:
    return routing_sqlite


def _delivery(db: Database) -> str:
    msg = DocumentReceived(
        document=str(uuid.uuid4()),
        document_id=f"{SENDER},2026/11/21,{uuid.uuid4().hex[:6]}/UBND",
        sender=SENDER,
        recipients=(RECIPIENT,),
        sha256="ab" * 32,
        size=10,
        received_at=datetime.now(UTC).isoformat(),
        subject="Thử",
        priority=0,
        due_date=None,
        paper=0,
        business_doc_type=0,
        supersedes=None,
        business_reason="",
        metadata={"Subject": "Thử"},
    )
    with db.unit_of_work() as session:
        consumers.on_document_received(session, msg, wrap(msg))
    with db.reading() as session:
        return session.scalars(sa.select(Delivery.id)).one()


def _announced(db: Database) -> list[DeliveryStatusChanged]:
    with db.reading() as session:
        bodies = session.scalars(
            sa.select(BUS.outbox.c.body)
            .where(BUS.outbox.c.exchange == "lt.events")
            .order_by(BUS.outbox.c.id)
        ).all()
    messages = unfold([parse(read_envelope(b)) for b in bodies])
    return [m for m in messages if isinstance(m, DeliveryStatusChanged)]


def _events(db: Database, delivery_id: str) -> list[tuple[int, str]]:
    with db.reading() as session:
        rows = session.scalars(
            sa.select(StatusEvent)
            .where(StatusEvent.delivery_id == delivery_id)
            .order_by(StatusEvent.seq)
        ).all()
        return [(e.seq, e.code) for e in rows]


def _audited_codes(db: Database, delivery_id: str) -> list[object]:
    with db.reading() as session:
        rows = session.scalars(
            sa.select(AuditRecord)
            .where(AuditRecord.delivery == delivery_id, AuditRecord.kind == "delivery.status")
            .order_by(AuditRecord.seq)
        ).all()
        return [r.payload["code"] for r in rows]


def test_an_arrival_is_recorded_and_not_announced_and_03_is(db: Database) -> None:
    delivery_id = _delivery(db)
    arrived = DeliveryArrived(
        delivery_id=delivery_id, recipient=RECIPIENT, arrived_at=datetime.now(UTC).isoformat()
    )
    with db.unit_of_work() as session:
        consumers.on_delivery_arrived(session, arrived, wrap(arrived))
    assert _events(db, delivery_id) == [(1, Status.ARRIVED)]
    assert _audited_codes(db, delivery_id) == [Status.ARRIVED]
    assert _announced(db) == []

    report_status(db, delivery_id, StatusReport(Status.REGISTERED, reported_by=RECIPIENT))
    assert _events(db, delivery_id) == [(1, Status.ARRIVED), (2, Status.REGISTERED)]
    (changed,) = _announced(db)
    assert (changed.delivery_id, changed.code, changed.status, changed.seq) == (
        delivery_id,
        "03",
        "03",
        2,
    )
    assert verify_chain(db).ok


def test_an_arrival_told_by_a_status_report_is_not_announced_either(db: Database) -> None:
    delivery_id = _delivery(db)
    arrived_at = datetime.now(UTC) - timedelta(minutes=1)
    report = StatusReport(
        Status.REGISTERED, reported_by=RECIPIENT, arrived_at=arrived_at.isoformat()
    )
    report_status(db, delivery_id, report)
    assert _events(db, delivery_id) == [(1, Status.ARRIVED), (2, Status.REGISTERED)]
    assert _audited_codes(db, delivery_id) == [Status.ARRIVED, Status.REGISTERED]
    assert [(m.code, m.seq) for m in _announced(db)] == [("03", 2)]
    with db.reading() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None and delivery.arrived_at == arrived_at
    assert verify_chain(db).ok
