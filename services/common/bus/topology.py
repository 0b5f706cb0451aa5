"""The whole bus topology, declared in one place.

- ``lt.events``: topic exchange for domain events, one durable queue per service.
- ``lt.agency``: topic exchange for deliveries, one durable queue per agency,
  bound with the agency's code as routing key.
- ``lt.dead``: dead letters. RabbitMQ moves a message there after
  ``BROKER_DELIVERY_LIMIT`` deliveries (a consumer that keeps crashing);
  our consumers put it there themselves after ``max_deliveries`` failed attempts,
  which also works on transports with no dead-lettering of their own.
"""

from __future__ import annotations

from typing import Any

from kombu import Exchange, Queue, binding
from kombu.connection import Connection

EVENTS = Exchange("lt.events", type="topic", durable=True)
AGENCY = Exchange("lt.agency", type="topic", durable=True)
DEAD = Exchange("lt.dead", type="topic", durable=True)

BROKER_DELIVERY_LIMIT = 10

# Which event types each service's queue receives.
SERVICE_EVENTS: dict[str, tuple[str, ...]] = {
    "routing": (
        "document.received",
        # A folded type and its single one: a message alone in its transaction, or
        # left over after cutting a fold into messages, travels as itself.
        "deliveries.arrived",
        "delivery.arrived",
        "agency.registered",
        "documents.verified",
        "document.verified",
    ),
    "ingest": (
        "documents.routed",  # folds deliveries.created (see routing above)
        "deliveries.created",
        "delivery.created",  # before deliveries.created; may still be in a queue
        "delivery.statuses_changed",
        "delivery.status_changed",
        "document.signed",
        "documents.verified",
        "document.verified",
        "delivery.due_soon",
        "delivery.overdue",
    ),
    "signing": ("document.received",),
}


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


def service_queue(service: str) -> Queue:
    return Queue(
        f"lt.{service}.events",
        bindings=[binding(EVENTS, routing_key=event) for event in SERVICE_EVENTS[service]],
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
    """Declare the exchanges, the dead-letter queue and every service queue."""
    channel = connection.default_channel
    for exchange in (EVENTS, AGENCY, DEAD):
        exchange(channel).declare()
    DEAD_QUEUE(channel).declare()
    for service, events in SERVICE_EVENTS.items():
        if events:
            service_queue(service)(channel).declare()
