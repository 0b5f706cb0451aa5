"""What signing reads from the bus, declared once.

:data:`SUBSCRIPTIONS` is the one table: per message type, the handler (a method of
:class:`~.arrival.ArrivalVerification`) and what a batch prepares first. The queue's
bindings (:data:`EVENT_TYPES`, read by the composition root) and the consumer's
:class:`Subscriptions` are both derived from it, so a new handler is one new row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kombu import Queue
from sqlalchemy.orm import Session

from services.common.bus.consumer import BatchPreparer, Handler, Subscriptions
from services.common.bus.envelope import Message
from services.common.bus.messages import DocumentReceived
from services.common.bus.topology import service_queue
from services.signing.arrival import ArrivalVerification, check_batch

CONSUMER_NAME = "signing-events"


@dataclass(frozen=True)
class Subscription:
    message: type[Message]
    handler: Callable[[ArrivalVerification], Handler]  # the bound handler to call
    prepare: BatchPreparer | None = None  # rows a batch of these loads up front


SUBSCRIPTIONS: tuple[Subscription, ...] = (
    Subscription(DocumentReceived, lambda arrival: arrival.on_document_received, check_batch),
)

#: The message types signing's queue is bound to.
EVENT_TYPES: tuple[type[Message], ...] = tuple(s.message for s in SUBSCRIPTIONS)
#: The service's events queue, bound to exactly those types (declared by the
#: composition root before any service runs, and by the consumer itself).
EVENTS_QUEUE: Queue = service_queue("signing", EVENT_TYPES)


def _prepare_batch(session: Session, messages: list[Message]) -> None:
    for subscription in SUBSCRIPTIONS:
        if subscription.prepare is not None:
            subscription.prepare(session, messages)


def subscriptions(arrival: ArrivalVerification) -> Subscriptions:
    """The consumer's handlers; documents are verified before each batch's transaction."""
    return Subscriptions(
        handlers={s.message: s.handler(arrival) for s in SUBSCRIPTIONS},
        before_batch=_prepare_batch,
        outside_transaction=arrival.verify_batch,
    )
