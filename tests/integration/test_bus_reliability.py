"""The reliability rules on real RabbitMQ and PostgreSQL: outbox after commit,
exactly-once effects under redelivery, poison messages to lt.dead."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from kombu import Connection, Queue

from services.common.bus import topology
from services.common.bus.connection import connect
from services.common.bus.consumer import BusConsumer
from services.common.bus.envelope import Envelope, read_envelope, wrap
from services.common.bus.messages import DeliveryArrived, DocumentReceived
from services.common.bus.outbox import OutboxRelay, add_to_outbox
from services.common.db import Database
from services.common.settings import BrokerSettings
from services.common.wiring import migrate
from services.routing import consumers
from services.routing.models import BUS, Delivery, Exchange
from testkit.infra import RabbitVhost

ROUTING_QUEUE = consumers.EVENTS_QUEUE

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(fresh_rabbit: RabbitVhost) -> BrokerSettings:
    return BrokerSettings(url=fresh_rabbit.url, transport_options={"confirm_publish": True})


@pytest.fixture
def routing_db(pg_urls: dict[str, str]) -> Iterator[Database]:
    migrate("routing", pg_urls["routing"])
    db = Database(pg_urls["routing"])
    yield db
    db.dispose()


def _received(recipients: tuple[str, ...] = ("000.00.01.H41", "000.00.02.H41")) -> DocumentReceived:
    return DocumentReceived(
        document=str(uuid.uuid4()),
        document_id="000.00.00.H41,2026/11/21,1/UBND",
        sender="000.00.00.H41",
        recipients=recipients,
        sha256="ab" * 32,
        size=10,
        received_at=datetime.now(UTC).isoformat(),
        subject="Thử nghiệm",
        priority=0,
        due_date=None,
        paper=0,
        business_doc_type=0,
        supersedes=None,
        business_reason="",
        metadata={"Subject": "Thử nghiệm", "Paper": 0, "OtherInfo": {"Priority": 0}},
    )


def _capture(connection: Connection, name: str, key: str = "#") -> Queue:
    topology.declare_queues(connection, [ROUTING_QUEUE])
    queue = Queue(name, exchange=topology.EVENTS, routing_key=key, durable=False, auto_delete=False)
    queue(connection.default_channel).declare()
    return queue


def _drain(connection: Connection, queue: Queue) -> list[Envelope]:
    bound = queue(connection.default_channel)
    out = []
    while (message := bound.get(no_ack=True)) is not None:
        out.append(read_envelope(message.decode()))
    return out


def _publish(connection: Connection, envelope: Envelope, routing_key: str) -> None:
    producer = connection.Producer()
    producer.publish(
        envelope.to_json(),
        exchange=topology.EVENTS.name,
        routing_key=routing_key,
        serializer="json",
        delivery_mode=2,
    )


def _consumer(routing_db: Database, broker: BrokerSettings, max_deliveries: int = 3) -> BusConsumer:
    return BusConsumer(
        "routing-events",
        routing_db,
        BUS,
        connect(broker),
        consumers.subscriptions(),
        lambda: [ROUTING_QUEUE],
        max_deliveries=max_deliveries,
    )


def _run_until(consumer: BusConsumer, done: object, timeout: float = 30.0) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    try:
        deadline = threading.Event()
        for _ in range(int(timeout / 0.1)):
            if done():  # type: ignore[operator]
                return
            deadline.wait(0.1)
        raise AssertionError("the consumer did not reach the expected state in time")
    finally:
        stop.set()
        thread.join(timeout=10)


def test_outbox_relay_confirms_a_batch_with_one_wait_and_keeps_the_order(
    routing_db: Database, broker: BrokerSettings
) -> None:
    relay = OutboxRelay(routing_db, BUS, connect(broker, confirm_each_publish=False))
    assert relay._confirms_batches()
    watcher = connect(broker)
    capture = _capture(watcher, "capture-batch", "document.received")
    with routing_db.unit_of_work() as session:
        sent = [
            add_to_outbox(session, BUS, _received(), exchange=topology.EVENTS.name).id
            for _ in range(250)
        ]

    assert relay.run_once() == 200  # one batch, confirmed together
    assert relay.run_once() == 50
    assert relay.run_once() == 0

    assert [e.id for e in _drain(watcher, capture)] == sent
    with routing_db.reading() as session:
        left = session.execute(
            sa.select(sa.func.count())
            .select_from(BUS.outbox)
            .where(BUS.outbox.c.published_at.is_(None), BUS.outbox.c.message_id.in_(sent))
        ).scalar_one()
    assert left == 0
    relay._reset()
    watcher.release()


def test_outbox_relay_publishes_after_commit_and_never_before(
    routing_db: Database, broker: BrokerSettings
) -> None:
    relay = OutboxRelay(routing_db, BUS, connect(broker))
    watcher = connect(broker)
    capture = _capture(watcher, "capture-outbox", "document.received")
    msg = _received()

    session = routing_db._sessions()
    envelope = add_to_outbox(session, BUS, msg, exchange=topology.EVENTS.name)
    session.flush()  # the row exists inside the open transaction only
    assert relay.run_once() == 0
    assert _drain(watcher, capture) == []

    session.commit()
    session.close()
    assert relay.run_once() == 1
    delivered = _drain(watcher, capture)
    assert [e.id for e in delivered] == [envelope.id]
    assert delivered[0].payload["document"] == msg.document
    assert relay.run_once() == 0  # marked published: not sent again
    with routing_db.reading() as s:
        published = s.execute(sa.select(BUS.outbox.c.published_at)).scalar_one()
    assert published is not None

    rolled_back = routing_db._sessions()
    add_to_outbox(rolled_back, BUS, _received(), exchange=topology.EVENTS.name)
    rolled_back.rollback()
    rolled_back.close()
    assert relay.run_once() == 0
    assert _drain(watcher, capture) == []
    watcher.close()
    relay.connection.close()


def test_redelivered_message_is_applied_once(routing_db: Database, broker: BrokerSettings) -> None:
    msg = _received()
    envelope = wrap(msg)
    connection = connect(broker)
    topology.declare_queues(connection, [ROUTING_QUEUE])
    consumer = _consumer(routing_db, broker)

    # First delivery: the effect commits, then the process dies before its ack.
    _publish(connection, envelope, "document.received")
    channel = connection.channel()
    raw = ROUTING_QUEUE(channel).get(no_ack=False)
    assert raw is not None
    consumer._apply(envelope, msg, consumers.on_document_received)
    channel.close()  # unacked: the broker redelivers

    # The same message published again by a relay that crashed before marking its row.
    _publish(connection, envelope, "document.received")

    def settled() -> bool:
        with routing_db.reading() as s:
            processed = s.execute(sa.select(sa.func.count()).select_from(BUS.processed)).scalar()
        depth = ROUTING_QUEUE(connection.channel()).queue_declare(passive=True).message_count
        return processed == 1 and depth == 0

    _run_until(consumer, settled)
    with routing_db.reading() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Exchange)) == 1
        assert s.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 2
        dispatched = s.scalar(
            sa.select(sa.func.count())
            .select_from(BUS.outbox)
            .where(BUS.outbox.c.exchange == topology.AGENCY.name)
        )
    assert dispatched == 2
    connection.close()


def _dead_letters(connection: Connection) -> list[tuple[dict[str, object], object]]:
    bound = topology.DEAD_QUEUE(connection.default_channel)
    out = []
    while (message := bound.get(no_ack=True)) is not None:
        out.append((dict(message.headers), message.body))
    return out


def test_poison_messages_land_in_dead_letters(routing_db: Database, broker: BrokerSettings) -> None:
    connection = connect(broker)
    topology.declare_queues(connection, [ROUTING_QUEUE])
    consumer = _consumer(routing_db, broker, max_deliveries=3)

    # A handler that keeps failing: an arrival for a delivery routing never created.
    failing = wrap(
        DeliveryArrived(
            delivery_id=str(uuid.uuid4()),
            recipient="000.00.01.H41",
            arrived_at=datetime.now(UTC).isoformat(),
        )
    )
    _publish(connection, failing, "delivery.arrived")
    # A message that cannot be parsed: retrying cannot help.
    malformed = Envelope(
        id=str(uuid.uuid4()),
        type="document.received",
        version=1,
        occurred_at=datetime.now(UTC).isoformat(),
        payload={"document": 1},
    )
    _publish(connection, malformed, "document.received")
    # And a good one behind them, which must still be applied.
    good = _received(("000.00.09.H41",))
    _publish(connection, wrap(good), "document.received")

    dead: list[tuple[dict[str, object], object]] = []

    def all_settled() -> bool:
        dead.extend(_dead_letters(connection))
        with routing_db.reading() as s:
            applied = s.get(Exchange, good.document) is not None
        return applied and len(dead) == 2

    _run_until(consumer, all_settled)
    reasons = {str(h["x-lt-original-routing-key"]): h for h, _ in dead}
    assert set(reasons) == {"delivery.arrived", "document.received"}
    assert reasons["delivery.arrived"]["x-lt-attempts"] == 3
    assert "NotFound" in str(reasons["delivery.arrived"]["x-lt-reason"])
    assert reasons["document.received"]["x-lt-attempts"] == 1
    assert "MessageFormatError" in str(reasons["document.received"]["x-lt-reason"])
    with routing_db.reading() as s:
        left = s.execute(
            sa.select(BUS.failures.c.attempts).where(BUS.failures.c.message_id == failing.id)
        ).all()
    assert left == []  # the count travels with the dead letter; a replay starts afresh
    connection.close()


def test_broker_dead_letters_a_message_that_keeps_coming_back(broker: BrokerSettings) -> None:
    """The quorum queue's delivery limit catches a consumer that dies on a message."""
    connection = connect(broker)
    topology.declare_queues(connection, [ROUTING_QUEUE])
    _publish(connection, wrap(_received()), "document.received")
    queue = ROUTING_QUEUE
    returned = 0
    for _ in range(topology.BROKER_DELIVERY_LIMIT + 5):
        channel = connection.channel()
        message = queue(channel).get(no_ack=False)
        if message is None:
            channel.close()
            break
        message.requeue()
        returned += 1
        channel.close()
    dead = _dead_letters(connection)
    assert returned >= topology.BROKER_DELIVERY_LIMIT
    assert len(dead) == 1
    assert queue(connection.channel()).queue_declare(passive=True).message_count == 0
    connection.close()


def test_operator_lists_and_replays_dead_letters(
    routing_db: Database, broker: BrokerSettings
) -> None:
    from services.common.bus.deadletters import list_dead, replay_dead

    connection = connect(broker)
    topology.declare_queues(connection, [ROUTING_QUEUE])
    consumer = _consumer(routing_db, broker, max_deliveries=2)
    # An arrival that comes before routing knows the document: dead after two attempts.
    received = _received(("000.00.05.H41",))
    _publish(connection, wrap(received), "document.received.hold")  # routed nowhere
    arrival = wrap(
        DeliveryArrived(
            delivery_id=str(uuid.uuid4()),
            recipient="000.00.05.H41",
            arrived_at=datetime.now(UTC).isoformat(),
        )
    )
    _publish(connection, arrival, "delivery.arrived")

    def one_dead() -> bool:
        return len(list_dead(connection)) == 1

    _run_until(consumer, one_dead)
    (letter,) = list_dead(connection)
    assert letter.message_id == arrival.id
    assert letter.original_routing_key == "delivery.arrived"
    assert letter.attempts == 2

    assert replay_dead(connection, {"not-this-one"}) == []
    assert len(list_dead(connection)) == 1
    replayed = replay_dead(connection, {arrival.id})
    assert [d.message_id for d in replayed] == [arrival.id]
    assert list_dead(connection) == []
    queue = ROUTING_QUEUE(connection.channel())
    assert queue.queue_declare(passive=True).message_count == 1
    connection.close()
