"""services/common/bus/outbox.py and consumer.py over kombu's in-memory transport.

kombu's memory transport keeps its queues and bindings per process, so each test
uses queues of its own (a fresh agency code, a private exchange) and empties the
shared ones (lt.dead and the service queues) first.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from kombu import Connection, Exchange, Producer, Queue
from kombu.message import Message as RawMessage
from sqlalchemy.orm import Session

from services.common.bus import topology
from services.common.bus.consumer import BusConsumer, Handler, Subscriptions
from services.common.bus.envelope import Envelope, wrap
from services.common.bus.messages import (
    DeliveryArrived,
    DeliveryCreated,
    DeliveryDispatched,
    DocumentReceived,
)
from services.common.bus.outbox import BatchConfirms, OutboxRelay, add_to_outbox
from services.common.bus.tables import BusTables, add_bus_tables
from services.common.db import Database

MAX_DELIVERIES = 3
# Two services' queues, bound as their handler maps would bind them.
ROUTING_QUEUE = topology.service_queue("routing", [DocumentReceived])
INGEST_QUEUE = topology.service_queue("ingest", [DeliveryCreated])
QUEUES = (ROUTING_QUEUE, INGEST_QUEUE)


@dataclass
class Bus:
    db: Database
    tables: BusTables
    effects: sa.Table
    connection: Connection


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[Bus]:
    db = Database(f"sqlite:///{tmp_path / 'bus.sqlite3'}")
    metadata = sa.MetaData()
    tables = add_bus_tables(metadata)
    effects = sa.Table(
        "effects",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.String(36), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
    )
    metadata.create_all(db.engine)
    connection = Connection("memory://", transport_options={"polling_interval": 0.01})
    topology.declare_base(connection)
    channel = connection.default_channel
    topology.DEAD_QUEUE(channel).purge()
    topology.declare_queues(connection, QUEUES)
    for queue in QUEUES:
        queue(channel).purge()
    yield Bus(db, tables, effects, connection)
    connection.release()
    db.dispose()


def _agency_code() -> str:
    """A fresh routing key, so that this test's agency queue is its own."""
    return f"T{uuid.uuid4().hex[:12]}"


def _arrived(recipient: str = "000.00.00.G22") -> DeliveryArrived:
    return DeliveryArrived(
        delivery_id=str(uuid.uuid4()), recipient=recipient, arrived_at=datetime.now(UTC).isoformat()
    )


def _dispatched(recipient: str) -> DeliveryDispatched:
    return DeliveryDispatched(
        delivery_id=str(uuid.uuid4()),
        document=str(uuid.uuid4()),
        document_id="000.00.00.H41,2024/03/15,12/UBND-VP",
        sender="000.00.00.H41",
        recipient=recipient,
        sha256="ab" * 32,
        size=10,
        subject="Trích yếu",
        dispatched_at=datetime.now(UTC).isoformat(),
    )


def _take_all(connection: Connection, queue: Queue) -> list[RawMessage]:
    taken = []
    bound = queue(connection.default_channel)
    while (message := bound.get(no_ack=True)) is not None:
        taken.append(message)
    return taken


def _dead_letters(connection: Connection) -> list[RawMessage]:
    return _take_all(connection, topology.DEAD_QUEUE)


def _count(db: Database, table: sa.Table, *where: Any) -> int:
    with db.reading() as session:
        return int(
            session.execute(
                sa.select(sa.func.count()).select_from(table).where(*where)
            ).scalar_one()
        )


# --- the outbox relay -----------------------------------------------------------


def test_add_to_outbox_writes_the_envelope(bus: Bus) -> None:
    msg = _arrived()
    with bus.db.unit_of_work() as session:
        envelope = add_to_outbox(session, bus.tables, msg, exchange=topology.EVENTS.name)
    with bus.db.reading() as session:
        row = session.execute(sa.select(bus.tables.outbox)).one()
    assert row.message_id == envelope.id
    assert row.exchange == "lt.events"
    assert row.routing_key == "delivery.arrived"  # the type, unless told otherwise
    assert row.body == envelope.to_json()
    assert row.published_at is None


def test_relay_publishes_only_committed_rows_and_marks_them(bus: Bus) -> None:
    code = _agency_code()
    committed, rolled_back = _dispatched(code), _dispatched(code)
    with bus.db.unit_of_work() as session:
        kept = add_to_outbox(
            session, bus.tables, committed, exchange=topology.AGENCY.name, routing_key=code
        )
    with pytest.raises(RuntimeError), bus.db.unit_of_work() as session:
        add_to_outbox(
            session, bus.tables, rolled_back, exchange=topology.AGENCY.name, routing_key=code
        )
        raise RuntimeError("the state change failed")

    relay = OutboxRelay(bus.db, bus.tables, bus.connection)
    assert relay.run_once() == 1

    published = _take_all(bus.connection, topology.agency_queue(code))
    assert len(published) == 1
    body = published[0].decode()
    assert body["id"] == kept.id
    assert body["payload"]["delivery_id"] == committed.delivery_id
    assert published[0].headers["lt-type"] == "delivery.dispatched"
    assert published[0].headers["lt-version"] == 1
    assert published[0].properties["message_id"] == kept.id
    with bus.db.reading() as session:
        rows = session.execute(sa.select(bus.tables.outbox)).all()
    assert [r.message_id for r in rows] == [kept.id]
    assert rows[0].published_at is not None

    # Nothing is left to publish, and nothing is published twice.
    assert relay.run_once() == 0
    assert _take_all(bus.connection, topology.agency_queue(code)) == []


def test_relay_keeps_commit_order_across_batches(bus: Bus) -> None:
    code = _agency_code()
    ids = []
    for _ in range(5):
        with bus.db.unit_of_work() as session:
            ids.append(
                add_to_outbox(
                    session,
                    bus.tables,
                    _dispatched(code),
                    exchange=topology.AGENCY.name,
                    routing_key=code,
                ).id
            )
    relay = OutboxRelay(bus.db, bus.tables, bus.connection, batch_size=2)

    assert [relay.run_once() for _ in range(4)] == [2, 2, 1, 0]

    published = _take_all(bus.connection, topology.agency_queue(code))
    assert [m.decode()["id"] for m in published] == ids
    assert _count(bus.db, bus.tables.outbox, bus.tables.outbox.c.published_at.is_(None)) == 0


def test_relay_routes_events_to_the_service_queues(bus: Bus) -> None:
    received = DocumentReceived(
        document=str(uuid.uuid4()),
        document_id="x",
        sender="000.00.00.H41",
        recipients=("000.00.00.G22",),
        sha256="ab" * 32,
        size=1,
        received_at=datetime.now(UTC).isoformat(),
        subject="Thử nghiệm",
        priority=0,
        due_date=None,
        paper=0,
        business_doc_type=0,
        supersedes=None,
        business_reason="",
        metadata={},
    )
    created = DeliveryCreated(
        delivery_id=str(uuid.uuid4()),
        document=received.document,
        sender="000.00.00.H41",
        recipient="000.00.00.G22",
        created_at=datetime.now(UTC).isoformat(),
    )
    with bus.db.unit_of_work() as session:
        add_to_outbox(session, bus.tables, received, exchange=topology.EVENTS.name)
        add_to_outbox(session, bus.tables, created, exchange=topology.EVENTS.name)

    assert OutboxRelay(bus.db, bus.tables, bus.connection).run_once() == 2

    routing = _take_all(bus.connection, ROUTING_QUEUE)
    ingest = _take_all(bus.connection, INGEST_QUEUE)
    assert [m.decode()["type"] for m in routing] == ["document.received"]
    assert [m.decode()["type"] for m in ingest] == ["delivery.created"]


# --- the consumer, one delivery at a time ------------------------------------------


@dataclass
class RecordingHandler:
    """Applies a DeliveryArrived as a row in ``effects``; can be told to fail."""

    effects: sa.Table
    fail_times: int = 0
    calls: list[str] = field(default_factory=list)
    failures: int = 0

    def __call__(self, session: Session, msg: DeliveryArrived, envelope: Envelope) -> None:
        self.calls.append(envelope.id)
        session.execute(
            self.effects.insert().values(delivery_id=msg.delivery_id, recipient=msg.recipient)
        )
        if self.failures < self.fail_times:
            self.failures += 1
            raise RuntimeError(f"handler failure #{self.failures}")


def _private_queue(connection: Connection) -> Queue:
    name = f"lt.unit.{uuid.uuid4().hex}"
    queue = Queue(
        name, exchange=Exchange(name, type="direct", durable=True), routing_key=name, durable=True
    )
    queue(connection.default_channel).declare()
    return queue


def _publish(connection: Connection, queue: Queue, body: Any, **kwargs: Any) -> None:
    Producer(connection.default_channel).publish(
        body, exchange=queue.exchange, routing_key=queue.routing_key, **kwargs
    )


def _consumer(bus: Bus, queue: Queue, handler: Handler, name: str = "unit-consumer") -> BusConsumer:
    return BusConsumer(
        name,
        bus.db,
        bus.tables,
        bus.connection,
        Subscriptions({DeliveryArrived: handler}),
        lambda: [queue],
        max_deliveries=MAX_DELIVERIES,
    )


def _deliver_until_empty(bus: Bus, consumer: BusConsumer, queue: Queue, limit: int = 50) -> int:
    """Hand every queued message to the consumer (requeued ones come back); count them."""
    bound = queue(bus.connection.default_channel)
    deliveries = 0
    while deliveries < limit and (raw := bound.get(no_ack=False)) is not None:
        consumer.on_message(raw)
        deliveries += 1
    return deliveries


def test_a_message_is_applied_and_recorded(bus: Bus) -> None:
    queue = _private_queue(bus.connection)
    handler = RecordingHandler(bus.effects)
    msg = _arrived()
    envelope = wrap(msg)
    _publish(bus.connection, queue, envelope.to_json(), serializer="json")

    assert _deliver_until_empty(bus, _consumer(bus, queue, handler), queue) == 1

    assert handler.calls == [envelope.id]
    with bus.db.reading() as session:
        effect = session.execute(sa.select(bus.effects)).one()
        processed = session.execute(sa.select(bus.tables.processed)).one()
    assert (effect.delivery_id, effect.recipient) == (msg.delivery_id, msg.recipient)
    assert (processed.consumer, processed.message_id) == ("unit-consumer", envelope.id)
    assert _dead_letters(bus.connection) == []


def test_the_same_envelope_delivered_twice_is_applied_once(bus: Bus) -> None:
    queue = _private_queue(bus.connection)
    handler = RecordingHandler(bus.effects)
    envelope = wrap(_arrived())
    for _ in range(2):  # e.g. the relay crashed between the broker's confirm and marking
        _publish(bus.connection, queue, envelope.to_json(), serializer="json")

    assert _deliver_until_empty(bus, _consumer(bus, queue, handler), queue) == 2

    assert handler.calls == [envelope.id]
    assert _count(bus.db, bus.effects) == 1
    assert _count(bus.db, bus.tables.processed) == 1
    assert _take_all(bus.connection, queue) == []  # both were acknowledged
    assert _dead_letters(bus.connection) == []


def test_idempotency_is_per_consumer(bus: Bus) -> None:
    queue = _private_queue(bus.connection)
    handler = RecordingHandler(bus.effects)
    envelope = wrap(_arrived())
    for _ in range(2):
        _publish(bus.connection, queue, envelope.to_json(), serializer="json")
    bound = queue(bus.connection.default_channel)

    for name in ("consumer-a", "consumer-b"):
        raw = bound.get(no_ack=False)
        assert raw is not None
        _consumer(bus, queue, handler, name=name).on_message(raw)

    assert handler.calls == [envelope.id, envelope.id]
    assert _count(bus.db, bus.effects) == 2


def test_a_failing_handler_is_retried_then_dead_lettered(bus: Bus) -> None:
    queue = _private_queue(bus.connection)
    handler = RecordingHandler(bus.effects, fail_times=10**6)
    envelope = wrap(_arrived())
    body = envelope.to_json()
    _publish(bus.connection, queue, body, serializer="json")
    consumer = _consumer(bus, queue, handler)

    deliveries = _deliver_until_empty(bus, consumer, queue)

    assert deliveries == MAX_DELIVERIES
    assert handler.calls == [envelope.id] * MAX_DELIVERIES
    # Each failed attempt was rolled back: no effect, not marked processed.
    assert _count(bus.db, bus.effects) == 0
    assert _count(bus.db, bus.tables.processed) == 0
    # The message is in lt.dead, untouched, with the reason; the source queue is empty.
    dead = _dead_letters(bus.connection)
    assert len(dead) == 1
    assert dead[0].decode() == body
    headers = dead[0].headers
    assert headers["x-lt-reason"] == f"RuntimeError: handler failure #{MAX_DELIVERIES}"
    assert headers["x-lt-consumer"] == "unit-consumer"
    assert headers["x-lt-attempts"] == MAX_DELIVERIES
    assert headers["x-lt-original-routing-key"] == queue.routing_key
    assert _take_all(bus.connection, queue) == []

    # An operator fixes the cause and replays the dead letter: it is applied once.
    handler.fail_times = 0
    _publish(
        bus.connection,
        queue,
        dead[0].body,
        content_type=dead[0].content_type,
        content_encoding=dead[0].content_encoding,
    )
    assert _deliver_until_empty(bus, consumer, queue) == 1
    assert _count(bus.db, bus.effects) == 1
    assert _count(bus.db, bus.tables.processed) == 1
    assert _dead_letters(bus.connection) == []


def test_a_failure_count_is_kept_between_deliveries(bus: Bus) -> None:
    queue = _private_queue(bus.connection)
    handler = RecordingHandler(bus.effects, fail_times=10**6)
    envelope = wrap(_arrived())
    _publish(bus.connection, queue, envelope.to_json(), serializer="json")
    consumer = _consumer(bus, queue, handler)
    bound = queue(bus.connection.default_channel)

    for attempt in range(1, MAX_DELIVERIES):
        raw = bound.get(no_ack=False)
        assert raw is not None, f"the message was not requeued after attempt {attempt - 1}"
        consumer.on_message(raw)
        with bus.db.reading() as session:
            failure = session.execute(sa.select(bus.tables.failures)).one()
        assert failure.attempts == attempt
        assert failure.last_error == f"RuntimeError: handler failure #{attempt}"
        assert _dead_letters(bus.connection) == []


def test_a_handler_that_recovers_applies_once(bus: Bus) -> None:
    queue = _private_queue(bus.connection)
    handler = RecordingHandler(bus.effects, fail_times=MAX_DELIVERIES - 1)
    envelope = wrap(_arrived())
    _publish(bus.connection, queue, envelope.to_json(), serializer="json")

    deliveries = _deliver_until_empty(bus, _consumer(bus, queue, handler), queue)

    assert deliveries == MAX_DELIVERIES
    assert _count(bus.db, bus.effects) == 1
    assert _count(bus.db, bus.tables.processed) == 1
    assert _count(bus.db, bus.tables.failures) == 0  # cleared with the success
    assert _dead_letters(bus.connection) == []


def _envelope_body(**changes: Any) -> dict[str, Any]:
    body = wrap(_arrived()).to_json()
    for key, value in changes.items():
        if key.startswith("payload_"):
            body["payload"][key.removeprefix("payload_")] = value
        else:
            body[key] = value
    return body


POISON: dict[str, tuple[Any, dict[str, Any]]] = {
    "not-json": (
        "this is not JSON {",
        {"content_type": "application/json", "content_encoding": "utf-8"},
    ),
    "json-array": ([1, 2, 3], {"serializer": "json"}),
    "not-an-envelope": ({"hello": "world"}, {"serializer": "json"}),
    "unknown-type": (_envelope_body(type="delivery.vanished"), {"serializer": "json"}),
    "unknown-version": (_envelope_body(version=9), {"serializer": "json"}),
    "payload-not-object": (_envelope_body(payload=["x"]), {"serializer": "json"}),
    "wrong-field-type": (_envelope_body(payload_recipient=7), {"serializer": "json"}),
    "missing-field": (
        {**_envelope_body(), "payload": {"delivery_id": "x", "recipient": "y"}},
        {"serializer": "json"},
    ),
    "no-handler-here": (
        wrap(
            DeliveryCreated(
                delivery_id="d",
                document="doc",
                sender="s",
                recipient="r",
                created_at="now",
            )
        ).to_json(),
        {"serializer": "json"},
    ),
}


@pytest.mark.parametrize("case", list(POISON))
def test_an_undecodable_message_is_dead_lettered_at_once(bus: Bus, case: str) -> None:
    body, options = POISON[case]
    queue = _private_queue(bus.connection)
    handler = RecordingHandler(bus.effects)
    _publish(bus.connection, queue, body, **options)

    assert _deliver_until_empty(bus, _consumer(bus, queue, handler), queue) == 1

    assert handler.calls == []
    dead = _dead_letters(bus.connection)
    assert len(dead) == 1
    assert dead[0].headers["x-lt-attempts"] == 1
    assert dead[0].headers["x-lt-reason"]
    assert dead[0].body == (body.encode() if isinstance(body, str) else dead[0].body)
    assert _take_all(bus.connection, queue) == []
    assert _count(bus.db, bus.tables.processed) == 0


def test_envelopes_without_an_id_are_not_collapsed_into_one(bus: Bus) -> None:
    """Idempotency is keyed on the message id; an envelope with ``"id": null`` must be
    refused (lt.dead), not recorded as the id "None" so that the next id-less
    message is silently dropped as "already applied"."""
    queue = _private_queue(bus.connection)
    handler = RecordingHandler(bus.effects)
    for _ in range(2):
        body = wrap(_arrived()).to_json()  # two different messages...
        body["id"] = None  # ...from a producer that forgot the id
        _publish(bus.connection, queue, body, serializer="json")

    assert _deliver_until_empty(bus, _consumer(bus, queue, handler), queue) == 2

    applied = _count(bus.db, bus.effects)
    dead = len(_dead_letters(bus.connection))
    outcome = f"{applied} applied, {dead} dead-lettered, {2 - applied - dead} silently dropped"
    assert (applied, dead) == (0, 2), outcome


# --- relay and consumer running as workers ----------------------------------------


def test_relay_and_consumer_workers_deliver_a_committed_message(bus: Bus) -> None:
    code = _agency_code()
    queue = topology.agency_queue(code)
    queue(bus.connection.default_channel).declare()
    handler_calls: list[str] = []

    def handler(session: Session, msg: DeliveryDispatched, envelope: Envelope) -> None:
        handler_calls.append(envelope.id)
        session.execute(
            bus.effects.insert().values(delivery_id=msg.delivery_id, recipient=msg.recipient)
        )

    options = {"polling_interval": 0.01}
    relay = OutboxRelay(
        bus.db, bus.tables, Connection("memory://", transport_options=options), poll_interval=0.05
    )
    consumer = BusConsumer(
        "unit-connector",
        bus.db,
        bus.tables,
        Connection("memory://", transport_options=options),
        Subscriptions({DeliveryDispatched: handler}),
        lambda: [queue],
        max_deliveries=MAX_DELIVERIES,
        queue_refresh_seconds=0.1,
    )
    stop = threading.Event()
    workers = [
        threading.Thread(target=relay.run, args=(stop,), daemon=True),
        threading.Thread(target=consumer.run, args=(stop,), daemon=True),
    ]
    for worker in workers:
        worker.start()
    try:
        msg = _dispatched(code)
        with bus.db.unit_of_work() as session:
            envelope = add_to_outbox(
                session, bus.tables, msg, exchange=topology.AGENCY.name, routing_key=code
            )
        give_up = time.monotonic() + 20
        while _count(bus.db, bus.effects) == 0 and time.monotonic() < give_up:
            time.sleep(0.02)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=10)

    assert not any(worker.is_alive() for worker in workers)
    assert handler_calls == [envelope.id]
    with bus.db.reading() as session:
        effect = session.execute(sa.select(bus.effects)).one()
    assert effect.delivery_id == msg.delivery_id
    assert _count(bus.db, bus.tables.outbox, bus.tables.outbox.c.published_at.is_(None)) == 0
    assert _take_all(bus.connection, queue) == []


# --- batches ------------------------------------------------------------------------


def _take_batch(bus: Bus, queue: Queue) -> list[RawMessage]:
    bound = queue(bus.connection.default_channel)
    taken = []
    while (raw := bound.get(no_ack=False)) is not None:
        taken.append(raw)
    return taken


def test_a_batch_is_applied_in_one_go_and_a_repeat_inside_it_once(bus: Bus) -> None:
    queue = _private_queue(bus.connection)
    handler = RecordingHandler(bus.effects)
    envelopes = [wrap(_arrived()) for _ in range(5)]
    for envelope in [*envelopes, envelopes[2]]:  # the broker delivered one of them twice
        _publish(bus.connection, queue, envelope.to_json(), serializer="json")

    _consumer(bus, queue, handler).on_batch(_take_batch(bus, queue))

    assert handler.calls == [e.id for e in envelopes]
    assert _count(bus.db, bus.effects) == 5
    assert _count(bus.db, bus.tables.processed) == 5
    assert _take_batch(bus, queue) == []  # every message acknowledged


def test_a_batch_skips_what_was_applied_before(bus: Bus) -> None:
    queue = _private_queue(bus.connection)
    handler = RecordingHandler(bus.effects)
    consumer = _consumer(bus, queue, handler)
    first = wrap(_arrived())
    _publish(bus.connection, queue, first.to_json(), serializer="json")
    consumer.on_batch(_take_batch(bus, queue))
    second = wrap(_arrived())
    for envelope in (first, second):  # ``first`` again: its ack was lost
        _publish(bus.connection, queue, envelope.to_json(), serializer="json")

    consumer.on_batch(_take_batch(bus, queue))

    assert handler.calls == [first.id, second.id]
    assert _count(bus.db, bus.effects) == 2


def test_a_failing_message_leaves_nothing_of_its_batch_then_the_rest_apply_alone(
    bus: Bus,
) -> None:
    queue = _private_queue(bus.connection)
    handler = RecordingHandler(bus.effects, fail_times=1)  # the batch attempt fails
    envelopes = [wrap(_arrived()) for _ in range(3)]
    for envelope in envelopes:
        _publish(bus.connection, queue, envelope.to_json(), serializer="json")

    _consumer(bus, queue, handler).on_batch(_take_batch(bus, queue))

    # The batch rolled back at its first message; then each applied on its own.
    assert handler.calls == [envelopes[0].id, *[e.id for e in envelopes]]
    with bus.db.reading() as session:
        applied = set(session.execute(sa.select(bus.effects.c.delivery_id)).scalars())
    assert len(applied) == 3
    assert _count(bus.db, bus.tables.processed) == 3
    assert _count(bus.db, bus.tables.failures) == 0


def test_a_poison_message_in_a_batch_is_dead_lettered_and_the_rest_applied(bus: Bus) -> None:
    queue = _private_queue(bus.connection)
    handler = RecordingHandler(bus.effects)
    good = [wrap(_arrived()) for _ in range(2)]
    _publish(bus.connection, queue, good[0].to_json(), serializer="json")
    _publish(
        bus.connection,
        queue,
        "this is not JSON {",
        content_type="application/json",
        content_encoding="utf-8",
    )
    _publish(bus.connection, queue, good[1].to_json(), serializer="json")

    _consumer(bus, queue, handler).on_batch(_take_batch(bus, queue))

    assert handler.calls == [e.id for e in good]
    assert len(_dead_letters(bus.connection)) == 1
    assert _take_batch(bus, queue) == []


def test_a_message_that_keeps_failing_in_batches_is_dead_lettered_alone(bus: Bus) -> None:
    queue = _private_queue(bus.connection)

    @dataclass
    class FailsOn:
        bad: str
        calls: list[str] = field(default_factory=list)

        def __call__(self, session: Session, msg: DeliveryArrived, envelope: Envelope) -> None:
            self.calls.append(envelope.id)
            if msg.delivery_id == self.bad:
                raise RuntimeError("this one cannot be applied")
            session.execute(
                bus.effects.insert().values(delivery_id=msg.delivery_id, recipient=msg.recipient)
            )

    messages = [_arrived() for _ in range(3)]
    handler = FailsOn(bad=messages[1].delivery_id)
    consumer = _consumer(bus, queue, handler)
    for msg in messages:
        _publish(bus.connection, queue, wrap(msg).to_json(), serializer="json")

    for _ in range(MAX_DELIVERIES + 2):
        batch = _take_batch(bus, queue)
        if not batch:
            break
        consumer.on_batch(batch)

    with bus.db.reading() as session:
        applied = set(session.execute(sa.select(bus.effects.c.delivery_id)).scalars())
    assert applied == {messages[0].delivery_id, messages[2].delivery_id}
    dead = _dead_letters(bus.connection)
    assert len(dead) == 1
    assert dead[0].headers["x-lt-attempts"] == MAX_DELIVERIES


# --- batch publisher confirms ----------------------------------------------------------


class _ConfirmChannel:
    """What BatchConfirms uses of a py-amqp channel: confirm_select and its events."""

    def __init__(self) -> None:
        self.selected = False
        self.events: dict[str, set[Any]] = {"basic_ack": set(), "basic_nack": set()}

    def confirm_select(self) -> None:
        self.selected = True

    def ack(self, tag: int, multiple: bool = False) -> None:
        for callback in self.events["basic_ack"]:
            callback(tag, multiple)

    def nack(self, tag: int, multiple: bool = False) -> None:
        for callback in self.events["basic_nack"]:
            callback(tag, multiple)


def test_batch_confirms_follow_the_broker_numbering_and_multiple_acks() -> None:
    channel = _ConfirmChannel()
    confirms = BatchConfirms(channel)
    assert channel.selected
    for row_id in (101, 102, 103, 104, 105):  # delivery tags 1..5
        confirms.published(row_id)

    channel.ack(3, multiple=True)
    channel.nack(4)
    assert confirms.take() == ([101, 102, 103], [104], 1)
    channel.ack(5)
    channel.ack(5)  # a repeated ack changes nothing
    assert confirms.take() == ([105], [], 0)
