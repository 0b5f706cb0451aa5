"""Routing's bus consumer: what it reads from lt.events, and what each message does.

``CONSUMED`` is the one table: each entry names a message type, its handler, and the
rows its messages name (to lock or read up front for a batch). The handler map, the
queue's bindings (``EVENT_TYPES``) and ``lock_for_batch`` are all derived from it, so
a new message type takes one new entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from kombu import Queue
from sqlalchemy.orm import Session

from services.common.bus.consumer import Handler, Subscriptions
from services.common.bus.envelope import Envelope, Message, unfold
from services.common.bus.messages import (
    AgencyRegistered,
    AgencyRegisteredV2,
    DeliveryArrived,
    DocumentReceived,
    DocumentVerified,
    DocumentVerifiedV2,
)
from services.common.bus.topology import service_queue
from services.common.db import add_row, get_row, load_rows, lock_rows
from services.routing import audit
from services.routing.deadlines.notices import usable_address
from services.routing.exchanges import route_document
from services.routing.ledger import feed as ledger
from services.routing.models import Agency, Base, Delivery, Exchange, SignatureVerdict
from services.routing.statuses import locked_delivery, record_arrival

M = TypeVar("M", bound=Message)


def on_agency_registered(session: Session, msg: AgencyRegistered, _env: Envelope) -> None:
    """v1 and v2 (the consumer keys handlers by type, not version). v1 leaves a known
    mailbox alone: an older emitter knows nothing about it. v2 sets or clears it."""
    agency = session.get(Agency, msg.code) or Agency(code=msg.code)
    agency.name = msg.name
    agency.parent_code = msg.parent_code
    agency.nonstandard_code = msg.nonstandard_code
    if isinstance(msg, AgencyRegisteredV2):
        agency.email = usable_address(msg.email)
    session.add(agency)


def on_document_received(session: Session, msg: DocumentReceived, _env: Envelope) -> None:
    route_document(session, msg)


def on_delivery_arrived(session: Session, msg: DeliveryArrived, _env: Envelope) -> None:
    audit.lock_head(session)  # before the delivery: the one lock order (see audit.lock_head)
    delivery = locked_delivery(session, msg.delivery_id)
    record_arrival(session, delivery, datetime.fromisoformat(msg.arrived_at))


def on_document_verified(session: Session, msg: DocumentVerified, _env: Envelope) -> None:
    verdict = get_row(session, SignatureVerdict, msg.document)
    if verdict is None:
        verdict = SignatureVerdict(document=msg.document)
        add_row(session, verdict)
    verdict.sha256 = msg.sha256
    verdict.verdict = msg.verdict
    verdict.organization_signed = msg.organization_signed
    verdict.signers = list(msg.signers)
    verdict.verified_at = datetime.fromisoformat(msg.verified_at)
    verdict.scanned = msg.scanned if isinstance(msg, DocumentVerifiedV2) else None
    ledger.verdict_recorded(
        session,
        msg.document,
        organization_signed=msg.organization_signed,
        scanned=verdict.scanned,
    )
    audit.append(
        session,
        "document.verified",
        document=msg.document,
        payload={
            "sha256": msg.sha256,
            "verdict": msg.verdict,
            "organization_signed": msg.organization_signed,
        },
    )


@dataclass(frozen=True)
class Names(Generic[M]):
    """A row each message names by primary key: locked (FOR UPDATE, in key order) or
    only read, for the whole batch in one query."""

    model: type[Base]
    key: Callable[[M], str]
    lock: bool = False


@dataclass(frozen=True)
class Consumed(Generic[M]):
    message: type[M]
    handler: Callable[[Session, M, Envelope], None]
    names: tuple[Names[M], ...] = ()


CONSUMED: tuple[Consumed[Any], ...] = (
    Consumed(
        DocumentReceived,
        on_document_received,
        # Safe to decide on up front: the head lock serializes every exchange's creation.
        (
            Names(Exchange, lambda m: m.document),
            Names(SignatureVerdict, lambda m: m.document),
        ),
    ),
    Consumed(
        DeliveryArrived,
        on_delivery_arrived,
        (Names(Delivery, lambda m: m.delivery_id, lock=True),),
    ),
    # v1 and v2 share it (handlers are keyed by type): v2 also carries the mailbox.
    Consumed(AgencyRegistered, on_agency_registered),
    Consumed(
        DocumentVerified,
        on_document_verified,
        (Names(SignatureVerdict, lambda m: m.document),),
    ),
)

#: The message types routing's queue is bound to (``topology.service_queue``).
EVENT_TYPES: tuple[type[Message], ...] = tuple(c.message for c in CONSUMED)
#: The service's events queue, bound to exactly those types (declared by the
#: composition root before any service runs, and by the consumer itself).
EVENTS_QUEUE: Queue = service_queue("routing", EVENT_TYPES)

_BY_TYPE: dict[str, Consumed[Any]] = {c.message.TYPE: c for c in CONSUMED}


def lock_for_batch(session: Session, messages: list[Message]) -> None:
    """Before a batch of bus messages: the audit head, then every row the batch's
    messages name to lock, in one query per table and in key order (the one lock
    order: head first), then the rows they only read, in one query per table."""
    wanted: dict[tuple[type[Base], bool], set[str]] = {}
    for msg in unfold(messages):
        consumed = _BY_TYPE.get(msg.TYPE)
        for names in consumed.names if consumed else ():
            wanted.setdefault((names.model, names.lock), set()).add(names.key(msg))
    if not wanted:
        return
    audit.lock_head(session)
    for (model, lock), keys in sorted(wanted.items(), key=lambda item: not item[0][1]):
        (lock_rows if lock else load_rows)(session, model, keys)
    # The ledger rows the batch's arrivals and verdicts change, in a few queries.
    ledger.preload(
        session,
        documents=wanted.get((SignatureVerdict, False), ()),
        delivery_ids=wanted.get((Delivery, True), ()),
    )


def subscriptions() -> Subscriptions:
    handlers: dict[type[Message], Handler] = {c.message: c.handler for c in CONSUMED}
    return Subscriptions(handlers, before_batch=lock_for_batch)
