"""add_folded_to_outbox: the messages one transaction sends to one destination with
the same fold travel as one message; a folded message is prepared as a batch."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.common.bus import outbox, topology
from services.common.bus.consumer import BusConsumer, Subscriptions
from services.common.bus.envelope import Envelope, Folded, Message, parse, read_envelope, wrap
from services.common.bus.messages import DeliveriesArrived, DeliveriesDispatched, DeliveryArrived
from services.common.bus.outbox import OutboxRelay, add_folded_to_outbox, add_to_outbox
from tests.unit.common.test_bus import (  # noqa: F401 (the fixture)
    Bus,
    _agency_code,
    _arrived,
    _dispatched,
    _private_queue,
    _publish,
    _take_all,
    _take_batch,
    bus,
)


def _rows(bus: Bus) -> list[sa.Row[tuple[object, ...]]]:  # noqa: F811
    with bus.db.reading() as session:
        return list(session.execute(sa.select(bus.tables.outbox).order_by("id")).all())


def _fold_arrival(session: Session, bus: Bus, msg: DeliveryArrived) -> None:  # noqa: F811
    add_folded_to_outbox(
        session, bus.tables, msg, fold=DeliveriesArrived.of, exchange=topology.EVENTS.name
    )


def _fold_copy(session: Session, bus: Bus, code: str) -> None:  # noqa: F811
    add_folded_to_outbox(
        session,
        bus.tables,
        _dispatched(code),
        fold=DeliveriesDispatched.of,
        exchange=topology.AGENCY.name,
        routing_key=code,
    )


def test_one_transactions_messages_travel_as_one_after_its_other_messages(bus: Bus) -> None:  # noqa: F811
    arrivals = [_arrived() for _ in range(3)]
    with bus.db.unit_of_work() as session:
        _fold_arrival(session, bus, arrivals[0])
        plain = add_to_outbox(session, bus.tables, _arrived(), exchange=topology.EVENTS.name)
        _fold_arrival(session, bus, arrivals[1])
        _fold_arrival(session, bus, arrivals[2])

    rows = _rows(bus)
    assert len(rows) == 2
    assert rows[0].message_id == plain.id
    folded = parse(read_envelope(rows[1].body))
    assert rows[1].routing_key == "deliveries.arrived"
    assert isinstance(folded, DeliveriesArrived)
    assert list(folded.messages()) == arrivals


def test_a_lone_message_travels_as_itself(bus: Bus) -> None:  # noqa: F811
    arrival = _arrived()
    with bus.db.unit_of_work() as session:
        _fold_arrival(session, bus, arrival)

    (row,) = _rows(bus)
    assert row.routing_key == "delivery.arrived"
    assert parse(read_envelope(row.body)) == arrival


def test_each_destination_and_each_transaction_folds_apart(bus: Bus) -> None:  # noqa: F811
    first, second = _agency_code(), _agency_code()
    with bus.db.unit_of_work() as session:
        for code in (first, second, first, second, first):
            _fold_copy(session, bus, code)
    with bus.db.unit_of_work() as session:
        _fold_copy(session, bus, first)

    assert OutboxRelay(bus.db, bus.tables, bus.connection).run_once() == 3
    to_first = [m.decode() for m in _take_all(bus.connection, topology.agency_queue(first))]
    to_second = [m.decode() for m in _take_all(bus.connection, topology.agency_queue(second))]
    assert [(b["type"], len(b["payload"].get("items", [b]))) for b in to_first] == [
        ("deliveries.dispatched", 3),
        ("delivery.dispatched", 1),
    ]
    assert [(b["type"], len(b["payload"]["items"])) for b in to_second] == [
        ("deliveries.dispatched", 2)
    ]
    assert {i["recipient"] for i in to_first[0]["payload"]["items"]} == {first}


def test_a_rolled_back_transaction_folds_nothing_into_the_next(bus: Bus) -> None:  # noqa: F811
    with pytest.raises(RuntimeError), bus.db.unit_of_work() as session:
        _fold_arrival(session, bus, _arrived())
        raise RuntimeError("the state change failed")
    kept = _arrived()
    with bus.db.unit_of_work() as session:
        _fold_arrival(session, bus, kept)

    (row,) = _rows(bus)
    assert parse(read_envelope(row.body)) == kept


def test_a_folded_message_alone_is_prepared_as_a_batch(bus: Bus) -> None:  # noqa: F811
    """The consumer asks the service to prepare a batch (lock and load its rows in one
    query) for a lone folded message too: it stands for many."""
    prepared: list[list[Message]] = []
    applied: list[str] = []

    def handler(session: Session, msg: DeliveriesArrived, _env: Envelope) -> None:
        applied.extend(m.delivery_id for m in msg.messages())

    queue = _private_queue(bus.connection)
    consumer = BusConsumer(
        "unit-folds",
        bus.db,
        bus.tables,
        bus.connection,
        Subscriptions(
            {
                DeliveriesArrived: handler,
                DeliveryArrived: lambda s, m, e: applied.append(m.delivery_id),
            },
            before_batch=lambda session, msgs: prepared.append(msgs),
        ),
        lambda: [queue],
    )
    folded = DeliveriesArrived.of([_arrived(), _arrived()])
    _publish(bus.connection, queue, wrap(folded).to_json(), serializer="json")
    consumer.on_batch(_take_batch(bus, queue))
    lone = _arrived()
    _publish(bus.connection, queue, wrap(lone).to_json(), serializer="json")
    consumer.on_batch(_take_batch(bus, queue))

    assert isinstance(folded, DeliveriesArrived)
    assert prepared == [[folded]]  # not for the lone plain message
    assert applied == [*(m.delivery_id for m in folded.messages()), lone.delivery_id]
    assert str(uuid.UUID(applied[0])) == applied[0]


def test_a_large_fold_is_cut_into_messages_of_bounded_size(
    bus: Bus,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outbox, "MAX_FOLDED_ITEMS", 3)
    arrivals = [_arrived() for _ in range(7)]
    with bus.db.unit_of_work() as session:
        for arrival in arrivals:
            _fold_arrival(session, bus, arrival)

    bodies = [parse(read_envelope(r.body)) for r in _rows(bus)]
    assert [type(b).__name__ for b in bodies] == [
        "DeliveriesArrived",
        "DeliveriesArrived",
        "DeliveryArrived",
    ]
    carried = [m for b in bodies for m in (b.messages() if isinstance(b, Folded) else [b])]
    assert carried == arrivals
