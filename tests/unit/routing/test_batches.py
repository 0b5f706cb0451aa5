"""Routing's consumer applying several bus messages in one transaction: the audit head
and every delivery the batch's arrivals name are locked up front, once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from kombu import Connection, Exchange, Producer, Queue
from kombu.message import Message as RawMessage

from services.common.bus.consumer import BusConsumer, Subscriptions
from services.common.bus.envelope import parse, read_envelope, wrap
from services.common.bus.messages import (
    DeliveriesArrived,
    DeliveriesDispatched,
    DeliveryArrived,
    DocumentReceived,
    DocumentsRouted,
    DocumentsVerified,
    DocumentVerified,
)
from services.common.contract import Verdict
from services.common.db import Database
from services.routing import consumers
from services.routing.audit import verify_chain
from services.routing.models import BUS, Delivery, SignatureVerdict, StatusEvent

SENDER = "000.00.00.H41"
RECIPIENTS = ("000.00.01.H41", "000.00.02.H41", "000.00.03.H41")


@pytest.fixture
def db(routing_sqlite: Database) -> Database:
    return routing_sqlite


@pytest.fixture
def queue() -> Iterator[tuple[Connection, Queue]]:
    connection = Connection("memory://")
    name = f"lt.unit.{uuid.uuid4().hex}"
    q = Queue(name, exchange=Exchange(name, type="direct"), routing_key=name)
    q(connection.default_channel).declare()
    yield connection, q
    connection.release()


def _received() -> DocumentReceived:
    return DocumentReceived(
        document=str(uuid.uuid4()),
        document_id=f"{SENDER},2026/11/21,{uuid.uuid4().hex[:6]}/UBND",
        sender=SENDER,
        recipients=RECIPIENTS,
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
        metadata={"Subject": "Thử", "Paper": 0, "OtherInfo": {"Priority": 0}},
    )


def _send_and_take(connection: Connection, q: Queue, messages: list[object]) -> list[RawMessage]:
    producer = Producer(connection.default_channel)
    for msg in messages:
        producer.publish(
            wrap(msg).to_json(),  # type: ignore[arg-type]
            exchange=q.exchange,
            routing_key=q.routing_key,
            serializer="json",
        )
    bound = q(connection.default_channel)
    taken = []
    while (raw := bound.get(no_ack=False)) is not None:
        taken.append(raw)
    return taken


def _arrivals(deliveries: Sequence[Delivery]) -> list[DeliveryArrived]:
    """Each delivery taken into its recipient's inbox now (the connector's report)."""
    return [
        DeliveryArrived(
            delivery_id=d.id, recipient=d.recipient_code, arrived_at=datetime.now(UTC).isoformat()
        )
        for d in deliveries
    ]


def _consumer(db: Database, connection: Connection, q: Queue) -> BusConsumer:
    return BusConsumer(
        "routing-events",
        db,
        BUS,
        connection,
        Subscriptions(
            {
                DocumentReceived: consumers.on_document_received,
                DeliveryArrived: consumers.on_delivery_arrived,
            },
            before_batch=consumers.lock_for_batch,
        ),
        lambda: [q],
    )


def test_documents_then_their_arrivals_in_batches(
    db: Database, queue: tuple[Connection, Queue]
) -> None:
    connection, q = queue
    consumer = _consumer(db, connection, q)
    documents = [_received() for _ in range(4)]
    consumer.on_batch(_send_and_take(connection, q, list(documents)))
    with db.reading() as session:
        deliveries = session.scalars(sa.select(Delivery)).all()
    assert len(deliveries) == 12

    arrivals = _arrivals(deliveries)
    # One arrival comes twice in the batch (a redelivery), and the batch holds a new
    # document too: its deliveries are made in the same transaction.
    consumer.on_batch(_send_and_take(connection, q, [*arrivals, arrivals[0], _received()]))

    with db.reading() as session:
        after = {d.id: d for d in session.scalars(sa.select(Delivery)).all()}
        events = session.scalars(sa.select(StatusEvent)).all()
    assert len(after) == 15
    assert all(
        (after[a.delivery_id].status, after[a.delivery_id].seq) == ("01", 1) for a in arrivals
    )
    assert sorted(e.delivery_id for e in events) == sorted(a.delivery_id for a in arrivals)
    check = verify_chain(db)
    # 5 exchanges and 15 dispatches, then 12 arrivals.
    assert (check.ok, check.records) == (True, 5 + 15 + 12)


def test_an_arrival_for_an_unknown_delivery_fails_alone(
    db: Database, queue: tuple[Connection, Queue]
) -> None:
    connection, q = queue
    consumer = _consumer(db, connection, q)
    document = _received()
    consumer.on_batch(_send_and_take(connection, q, [document]))
    with db.reading() as session:
        known = session.scalars(sa.select(Delivery)).first()
    assert known is not None
    good = DeliveryArrived(
        delivery_id=known.id,
        recipient=known.recipient_code,
        arrived_at=datetime.now(UTC).isoformat(),
    )
    unknown = DeliveryArrived(
        delivery_id=str(uuid.uuid4()), recipient=RECIPIENTS[0], arrived_at=good.arrived_at
    )

    consumer.on_batch(_send_and_take(connection, q, [good, unknown]))

    with db.reading() as session:
        assert session.get(Delivery, known.id).status == "01"  # type: ignore[union-attr]
    assert verify_chain(db).ok


def test_a_batch_sends_one_copy_message_per_recipient_and_one_status_message(
    db: Database, queue: tuple[Connection, Queue]
) -> None:
    """Under load a batch's deliveries to one agency travel as one message; a
    connector's folded arrivals are recorded, and no status message goes back."""
    connection, q = queue
    consumer = _consumer(db, connection, q)
    documents = [_received() for _ in range(4)]
    consumer.on_batch(_send_and_take(connection, q, list(documents)))
    with db.reading() as session:
        rows = session.execute(sa.select(BUS.outbox).order_by(BUS.outbox.c.id)).all()
        deliveries = session.scalars(sa.select(Delivery)).all()
    copies = [r for r in rows if r.exchange == "lt.agency"]
    assert sorted(r.routing_key for r in copies) == sorted(RECIPIENTS)
    by_recipient = {}
    for row in copies:
        folded = parse(read_envelope(row.body))
        assert isinstance(folded, DeliveriesDispatched)
        by_recipient[row.routing_key] = [m.delivery_id for m in folded.messages()]
    assert by_recipient == {
        code: [d.id for d in deliveries if d.recipient_code == code] for code in RECIPIENTS
    }
    (routed,) = [r for r in rows if r.routing_key == "documents.routed"]
    folded_routes = parse(read_envelope(routed.body))
    assert isinstance(folded_routes, DocumentsRouted)
    assert sorted(m.document for m in folded_routes.messages()) == sorted(
        d.document for d in documents
    )

    arrived = DeliveriesArrived.of(_arrivals(deliveries))
    consumer.on_batch(_send_and_take(connection, q, [arrived]))
    consumer.on_batch(_send_and_take(connection, q, [arrived]))  # redelivered: applied once

    with db.reading() as session:
        statuses = session.scalars(
            sa.select(BUS.outbox.c.body).where(BUS.outbox.c.exchange == "lt.events")
        ).all()
        events = session.scalars(sa.select(StatusEvent)).all()
    # Each 01 is recorded (its event, seq 1) and not announced back: ingest's connector
    # set it where it happened.
    assert [b for b in statuses if b["type"].startswith("delivery.status")] == []
    assert sorted((e.delivery_id, e.code, e.seq) for e in events) == sorted(
        (d.id, "01", 1) for d in deliveries
    )
    assert len(events) == 12
    assert verify_chain(db).ok


def test_a_batch_of_verdicts_reads_the_verdicts_it_replaces_in_one_query(
    db: Database, queue: tuple[Connection, Queue]
) -> None:
    connection, q = queue
    consumer = BusConsumer(
        "routing-events",
        db,
        BUS,
        connection,
        Subscriptions(
            {DocumentVerified: consumers.on_document_verified},
            before_batch=consumers.lock_for_batch,
        ),
        lambda: [q],
    )
    documents = [str(uuid.uuid4()) for _ in range(5)]

    def verdict(document: str, outcome: Verdict) -> DocumentVerified:
        return DocumentVerified(
            document=document,
            sha256="ab" * 32,
            verdict=outcome,
            signature_count=1,
            signers=("CN=Thử",),
            organization_signed=outcome is Verdict.VALID,
            verified_at=datetime.now(UTC).isoformat(),
            reasons=(),
        )

    consumer.on_batch(_send_and_take(connection, q, [verdict(documents[0], Verdict.INVALID)]))
    selects: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if "signature_verdicts" in statement and statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    folded = DocumentsVerified.of([verdict(d, Verdict.VALID) for d in documents])
    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        consumer.on_batch(_send_and_take(connection, q, [folded]))
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)

    assert len(selects) == 1
    with db.reading() as session:
        rows = session.scalars(sa.select(SignatureVerdict)).all()
    assert sorted((r.document, r.verdict) for r in rows) == sorted((d, "valid") for d in documents)
    check = verify_chain(db)
    assert (check.ok, check.records) == (True, 6)


def test_a_batchs_status_events_go_in_one_statement_without_returning(
    db: Database, queue: tuple[Connection, Queue]
) -> None:
    """Events are written at commit without fetching their generated ids back: a batch's
    events are one executemany, not a long INSERT ... RETURNING per page."""
    connection, q = queue
    consumer = _consumer(db, connection, q)
    consumer.on_batch(_send_and_take(connection, q, [_received() for _ in range(4)]))
    with db.reading() as session:
        deliveries = session.scalars(sa.select(Delivery)).all()
    arrived = DeliveriesArrived.of(_arrivals(deliveries))
    inserts: list[tuple[str, bool]] = []

    def seen(
        _conn: object, _cursor: object, statement: str, _params: object, _ctx: object, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO STATUS_EVENTS"):
            inserts.append((statement, many))

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        consumer.on_batch(_send_and_take(connection, q, [arrived]))
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)

    assert len(inserts) == 1
    statement, many = inserts[0]
    assert many
    assert "RETURNING" not in statement.upper()
    with db.reading() as session:
        events = session.scalars(sa.select(StatusEvent).order_by(StatusEvent.id)).all()
    assert len(events) == 12
    assert len({e.id for e in events}) == 12  # the database still numbers them
