"""Ingest's consumers applying a batch of bus messages in one transaction: every
delivery row the batch names is made (if missing) and locked up front, once."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from kombu import Connection, Exchange, Producer, Queue
from kombu.message import Message as RawMessage

from services.common.bus.consumer import BusConsumer, Handler, Subscriptions
from services.common.bus.envelope import Message, wrap
from services.common.bus.messages import (
    DeliveriesCreated,
    DeliveriesDispatched,
    DeliveryDispatched,
    DeliveryStatusChanged,
    DeliveryStatusesChanged,
)
from services.common.contract import Status
from services.ingest.consumers import lock_for_batch
from services.ingest.models import BUS, Delivery
from services.ingest.projections import (
    on_deliveries_created,
    on_delivery_dispatched,
    on_status_changed,
)
from tests.unit.ingest.test_api import (  # noqa: F401 (the fixture)
    RECIPIENT,
    SENDER,
    SMALL_PDF,
    THIRD,
    Ingest,
    dispatched_message,
    ingest,
    metadata,
    post_document,
)


def _batch(connection: Connection, queue: Queue, messages: list[Message]) -> list[RawMessage]:
    producer = Producer(connection.default_channel)
    for msg in messages:
        producer.publish(
            wrap(msg).to_json(), exchange=queue.exchange, routing_key="k", serializer="json"
        )
    bound = queue(connection.default_channel)
    taken = []
    while (raw := bound.get(no_ack=False)) is not None:
        taken.append(raw)
    return taken


def _consumer(
    ingest: Ingest,  # noqa: F811
    handler_map: dict[type[Message], Handler],
) -> tuple[Connection, Queue, BusConsumer]:
    """Ingest's batch consumer on a private in-memory queue."""
    connection = Connection("memory://")
    name = f"lt.unit.{uuid.uuid4().hex}"
    queue = Queue(name, exchange=Exchange(name, type="direct"), routing_key="k")
    queue(connection.default_channel).declare()
    consumer = BusConsumer(
        "ingest-events",
        ingest.ctx.db,
        BUS,
        connection,
        Subscriptions(handler_map, before_batch=lock_for_batch),
        lambda: [queue],
    )
    return connection, queue, consumer


def test_created_dispatched_and_a_status_in_one_batch(
    ingest: Ingest,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    response = post_document(ingest, SMALL_PDF.read_bytes(), metadata(RECIPIENT, THIRD))
    assert response.status_code == 201
    doc = response.get_json()
    ids = {RECIPIENT: str(uuid.uuid4()), THIRD: str(uuid.uuid4())}
    now = datetime.now(UTC).isoformat()
    messages: list[Message] = [
        DeliveriesCreated(
            document=doc["id"],
            sender=SENDER,
            delivery_ids=(ids[RECIPIENT], ids[THIRD]),
            recipients=(RECIPIENT, THIRD),
            created_at=now,
        ),
        dispatched_message(doc, ids[RECIPIENT], RECIPIENT),
        dispatched_message(doc, ids[THIRD], THIRD),
        dispatched_message(doc, ids[THIRD], THIRD),  # delivered twice by the broker
        DeliveryStatusChanged(
            delivery_id=ids[RECIPIENT],
            document=doc["id"],
            recipient=RECIPIENT,
            code=Status.REGISTERED,
            status=Status.REGISTERED,
            seq=2,
            at=now,
            reported_by=RECIPIENT,
            description="",
            staff={},
        ),
    ]
    connection, queue, consumer = _consumer(
        ingest,
        {
            DeliveriesCreated: on_deliveries_created,
            DeliveryDispatched: on_delivery_dispatched,
            DeliveryStatusChanged: on_status_changed,
        },
    )

    with caplog.at_level(logging.INFO, logger="services.common.bus.consumer"):
        consumer.on_batch(_batch(connection, queue, messages))
    assert "one by one" not in caplog.text  # applied as one batch, not after a fallback

    with ingest.ctx.db.reading() as session:
        rows = {d.delivery_id: d for d in session.scalars(sa.select(Delivery)).all()}
        announced = session.scalars(sa.select(BUS.outbox.c.body)).all()
    assert set(rows) == set(ids.values())
    assert all(r.arrived_at is not None for r in rows.values())
    assert (rows[ids[RECIPIENT]].status, rows[ids[RECIPIENT]].status_seq) == ("03", 2)
    assert rows[ids[THIRD]].status == "01"
    # One message announces both arrivals: the batch's connector transaction folds them.
    assert not [m for m in announced if m["type"] == "delivery.arrived"]
    (arrivals,) = [m for m in announced if m["type"] == "deliveries.arrived"]
    assert sorted(a["delivery_id"] for a in arrivals["payload"]["items"]) == sorted(ids.values())
    assert queue(connection.default_channel).get() is None  # all acknowledged
    connection.release()


def test_folded_copies_and_statuses_apply_like_single_ones(
    ingest: Ingest,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    response = post_document(ingest, SMALL_PDF.read_bytes(), metadata(RECIPIENT, THIRD))
    doc = response.get_json()
    ids = {RECIPIENT: str(uuid.uuid4()), THIRD: str(uuid.uuid4())}
    now = datetime.now(UTC).isoformat()

    def status(recipient: str, code: str, seq: int) -> DeliveryStatusChanged:
        return DeliveryStatusChanged(
            delivery_id=ids[recipient],
            document=doc["id"],
            recipient=recipient,
            code=Status(code),
            status=Status(code),
            seq=seq,
            at=now,
            reported_by=recipient,
            description="",
            staff={},
        )

    copies = DeliveriesDispatched.of(
        [
            dispatched_message(doc, ids[RECIPIENT], RECIPIENT),
            dispatched_message(doc, ids[THIRD], THIRD),
        ]
    )
    # Out of order on purpose: the newest status (by seq) is the one kept.
    statuses = DeliveryStatusesChanged.of(
        [status(RECIPIENT, "04", 3), status(RECIPIENT, "03", 2), status(THIRD, "03", 2)]
    )
    connection, queue, consumer = _consumer(
        ingest,
        {
            # The folded types are handled item by item by the consumer itself.
            DeliveryDispatched: on_delivery_dispatched,
            DeliveryStatusChanged: on_status_changed,
        },
    )

    with caplog.at_level(logging.INFO, logger="services.common.bus.consumer"):
        consumer.on_batch(_batch(connection, queue, [copies]))
        consumer.on_batch(_batch(connection, queue, [statuses, copies]))  # copies again
    assert "one by one" not in caplog.text

    with ingest.ctx.db.reading() as session:
        rows = {d.delivery_id: d for d in session.scalars(sa.select(Delivery)).all()}
        announced = session.scalars(
            sa.select(BUS.outbox.c.body).where(BUS.outbox.c.routing_key == "deliveries.arrived")
        ).all()
    assert {i: (r.status, r.status_seq) for i, r in rows.items()} == {
        ids[RECIPIENT]: ("04", 3),
        ids[THIRD]: ("03", 2),
    }
    assert all(r.arrived_at is not None for r in rows.values())
    (arrivals,) = announced  # the repeated copies arrived once
    assert sorted(a["delivery_id"] for a in arrivals["payload"]["items"]) == sorted(ids.values())
    connection.release()
