"""Ingest's bus consumers, declared from one table each: the events consumer (its queue
is bound to ``EVENT_TYPES``) and the agency connector (every agency's delivery queue).

An entry names the message type, its handler, and the rows its batch prepares: the
deliveries the message names (made if missing and locked, in one sorted statement for
the whole batch) and the documents it reads. Adding a handler is adding an entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from kombu import Queue
from sqlalchemy.orm import Session

from services.common.bus.consumer import Subscriptions
from services.common.bus.envelope import Envelope, Message, unfold
from services.common.bus.messages import (
    DeliveriesCreated,
    DeliveryCreated,
    DeliveryDispatched,
    DeliveryDueSoon,
    DeliveryOverdue,
    DeliveryStatusChanged,
    DocumentSigned,
    DocumentVerified,
)
from services.common.bus.topology import agency_queue, service_queue
from services.common.db import Database, insert_all_if_absent, load_rows, lock_rows
from services.common.settings import CommonSettings
from services.common.wiring import Runtime, add_consumer
from services.ingest import projections
from services.ingest.agencies import list_agencies
from services.ingest.models import BUS, Delivery, Document
from services.ingest.times import now

M = TypeVar("M", bound=Message)


class NamedDelivery(NamedTuple):
    delivery_id: str
    document: str
    recipient: str


def _nothing(_msg: Message) -> tuple[()]:
    return ()


@dataclass(frozen=True)
class Handling(Generic[M]):
    """How a consumer handles one message type, and what its batch prepares for it."""

    message: type[M]
    handler: Callable[[Session, M, Envelope], None]
    deliveries: Callable[[M], Iterable[NamedDelivery]] = _nothing
    documents: Callable[[M], Iterable[str]] = _nothing


# A table mixes message types; each entry was checked against its own type when built.
AnyHandling = Handling[Any]


def _its_delivery(
    msg: DeliveryDispatched | DeliveryStatusChanged | DeliveryDueSoon | DeliveryOverdue,
) -> tuple[NamedDelivery]:
    return (NamedDelivery(msg.delivery_id, msg.document, msg.recipient),)


def _its_deliveries(msg: DeliveriesCreated) -> Iterable[NamedDelivery]:
    # Every row the batch inserts is taken in one sorted statement, these too, or the
    # connector and the events consumer, inserting the same rows in different orders,
    # deadlock (PostgreSQL then takes a second to notice).
    return (
        NamedDelivery(delivery_id, msg.document, recipient)
        for delivery_id, recipient in zip(msg.delivery_ids, msg.recipients, strict=True)
    )


def _its_document(
    msg: DeliveryDispatched | DeliveryStatusChanged | DocumentVerified,
) -> tuple[str]:
    return (msg.document,)


EVENTS_CONSUMER: tuple[AnyHandling, ...] = (
    Handling(DeliveriesCreated, projections.on_deliveries_created, deliveries=_its_deliveries),
    Handling(DeliveryCreated, projections.on_delivery_created),
    Handling(
        DeliveryStatusChanged,
        projections.on_status_changed,
        deliveries=_its_delivery,
        documents=_its_document,
    ),
    Handling(DeliveryDueSoon, projections.on_delivery_due_soon, deliveries=_its_delivery),
    Handling(DeliveryOverdue, projections.on_delivery_overdue, deliveries=_its_delivery),
    Handling(DocumentSigned, projections.on_document_signed),
    Handling(DocumentVerified, projections.on_document_verified, documents=_its_document),
)

CONNECTOR: tuple[AnyHandling, ...] = (
    # Its document too: the arrival's status push names the sender (one query a batch).
    Handling(
        DeliveryDispatched,
        projections.on_delivery_dispatched,
        deliveries=_its_delivery,
        documents=_its_document,
    ),
)

#: What ingest's event queue is bound to (services.cli declares it from this).
EVENT_TYPES: tuple[type[Message], ...] = tuple(h.message for h in EVENTS_CONSUMER)
#: The service's events queue, bound to exactly those types (declared by the
#: composition root before any service runs, and by the consumer itself).
EVENTS_QUEUE: Queue = service_queue("ingest", EVENT_TYPES)

_BY_TYPE: dict[type[Message], AnyHandling] = {h.message: h for h in (*EVENTS_CONSUMER, *CONNECTOR)}


def lock_for_batch(session: Session, messages: list[Message]) -> None:
    """Before a batch of bus messages: make every delivery row they name (if missing)
    and lock them all, two statements for the batch instead of one or two per message,
    in id order, the order every batch uses; then read the documents they name in one
    more query."""
    deliveries: dict[str, NamedDelivery] = {}
    documents: list[str] = []
    for msg in unfold(messages):
        handling = _BY_TYPE.get(type(msg))
        if handling is None:
            continue
        deliveries.update((d.delivery_id, d) for d in handling.deliveries(msg))
        documents.extend(handling.documents(msg))
    created_at = now()
    insert_all_if_absent(
        session,
        Delivery,
        [projections.new_delivery_row(*d, created_at) for d in deliveries.values()],
    )
    lock_rows(session, Delivery, deliveries)
    load_rows(session, Document, documents)


def subscriptions(table: Iterable[AnyHandling]) -> Subscriptions:
    return Subscriptions({h.message: h.handler for h in table}, before_batch=lock_for_batch)


def add_consumers(runtime: Runtime, common: CommonSettings, db: Database) -> None:
    """The events consumer, and the connector: every registered agency's delivery
    queue feeds its inbox."""
    events = EVENTS_QUEUE
    add_consumer(
        runtime, common, BUS, "ingest-events", subscriptions(EVENTS_CONSUMER), lambda: [events]
    )
    add_consumer(
        runtime,
        common,
        BUS,
        "ingest-connector",
        subscriptions(CONNECTOR),
        lambda: [agency_queue(a.code) for a in list_agencies(db)],
    )
