"""The whole bus topology, declared in one place.

- ``lt.events``: topic exchange for domain events, one durable queue per service,
  bound to the message types in that service's handler map (``service_queue``).
- ``lt.agency``: topic exchange for deliveries, one durable queue per agency,
  bound with the agency's code as routing key.
- ``lt.dead``: dead letters. RabbitMQ moves a message there after
  ``BROKER_DELIVERY_LIMIT`` deliveries (a consumer that keeps crashing);
  our consumers put it there themselves after ``max_deliveries`` failed attempts,
  which also works on transports with no dead-lettering of their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kombu import Exchange, Queue, binding
from kombu.connection import Connection

from services.common.bus.envelope import Message, folded_types

EVENTS = Exchange("lt.events", type="topic", durable=True)
AGENCY = Exchange("lt.agency", type="topic", durable=True)
DEAD = Exchange("lt.dead", type="topic", durable=True)

BROKER_DELIVERY_LIMIT = 10


def _quorum_arguments() -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": DEAD.name,
        "x-delivery-limit": BROKER_DELIVERY_LIMIT,
    }


DEAD_QUEUE = Queue(
    "lt.dead",
    exchange=DEAD,
    routing_key="#",
    durable=True,
    queue_arguments={"x-queue-type": "quorum"},
)


def service_queue(service: str, message_types: Iterable[type[Message]]) -> Queue:
    """A service's event queue, bound to each message type its consumer reads (and to
    the folded type of each, which carries several of them as one message)."""
    names = {cls.TYPE for cls in message_types}
    names |= {folded.TYPE for folded in folded_types() if folded.ITEM.TYPE in names}
    return Queue(
        f"lt.{service}.events",
        bindings=[binding(EVENTS, routing_key=name) for name in sorted(names)],
        durable=True,
        queue_arguments=_quorum_arguments(),
    )


def agency_queue(code: str) -> Queue:
    return Queue(
        f"lt.agency.{code}",
        exchange=AGENCY,
        routing_key=code,
        durable=True,
        queue_arguments=_quorum_arguments(),
    )


def destination_queue(exchange: str, routing_key: str) -> Queue | None:
    """The queue that must exist before publishing here, so no delivery is unroutable."""
    if exchange == AGENCY.name:
        return agency_queue(routing_key)
    return None


def declare_base(connection: Connection) -> None:
    """Declare the exchanges and the dead-letter queue."""
    channel = connection.default_channel
    for exchange in (EVENTS, AGENCY, DEAD):
        exchange(channel).declare()
    DEAD_QUEUE(channel).declare()


def declare_queues(connection: Connection, queues: Iterable[Queue]) -> None:
    """Declare queues with their bindings. Whoever starts the services declares every
    service's queue first, so an event published before its reader ever ran is kept."""
    declare_base(connection)
    channel = connection.default_channel
    for queue in queues:
        queue(channel).declare()
