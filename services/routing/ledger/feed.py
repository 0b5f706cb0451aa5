"""Keeping the ledger as routing records things: each hook updates an exchange's
facts in the caller's transaction; at commit each changed exchange is settled once and
the counters move by the difference between what it contributed before the
transaction and what it contributes now.

Every writer of routing's records holds the audit head lock (``audit.lock_head``)
before it touches a delivery, so counter rows are never updated concurrently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from services.common.contract import Status
from services.common.db import before_rows_at_commit, driver_connection, transaction_local
from services.routing.ledger import rows as ledger_rows
from services.routing.ledger.counters import Contribution, apply
from services.routing.ledger.rows import DeliveryRow, ExchangeRow, facts_of
from services.routing.ledger.rules import (
    REGISTERED_OR_LATER,
    DueState,
    Latency,
    Reason,
    classify_exchange,
    due_state,
    encode_reasons,
    latency_bucket,
    reason_column,
    vietnam_day,
)
from services.routing.models import Delivery, Exchange


class ExchangeFields(Protocol):
    """What the rules read and set on an exchange's ledger row: the ORM row, or a
    plain one (``rebuild`` makes a million of them)."""

    sender_code: str
    sent_day: date
    scanned: bool | None
    organization_signed: bool | None
    paper: bool
    replaced: bool
    fully_electronic: bool
    signed: bool
    taken_back: bool
    reasons: str


class DeliveryFields(Protocol):
    recipient_code: str
    sent_at: datetime
    arrived_at: datetime | None
    registered_at: datetime | None
    completed_at: datetime | None
    rejected: bool
    taken_back: bool
    due_at: datetime | None
    due_day: date | None
    due_state: str
    delivery_bucket: int | None
    registration_bucket: int | None


def _set(row: object, name: str, value: object) -> None:
    """Assign only a change: an unchanged attribute is left out of the UPDATE."""
    if getattr(row, name) != value:
        setattr(row, name, value)


def settle(row: ExchangeFields, deliveries: Iterable[DeliveryFields]) -> None:
    """Derive what follows from the facts: the classification and, per delivery, its
    deadline state and latency buckets."""
    deliveries = list(deliveries)
    for d in deliveries:
        state = due_state(d.due_at, d.completed_at, rejected=d.rejected, taken_back=d.taken_back)
        _set(d, "due_state", state.value)
        if d.arrived_at is not None:
            delivered = latency_bucket((d.arrived_at - d.sent_at).total_seconds())
            _set(d, "delivery_bucket", delivered)
            if d.registered_at is not None:
                seconds = max((d.registered_at - d.arrived_at).total_seconds(), 0.0)
                _set(d, "registration_bucket", latency_bucket(seconds))
    verdict = classify_exchange(row, deliveries)
    _set(row, "fully_electronic", verdict.fully_electronic)
    _set(row, "signed", verdict.signed)
    _set(row, "taken_back", verdict.taken_back)
    _set(row, "reasons", encode_reasons(verdict.reasons))


def contribution(row: ExchangeFields, deliveries: Iterable[DeliveryFields]) -> Contribution:
    """What a settled exchange adds to the daily and latency counters."""
    sender, day = row.sender_code, row.sent_day
    daily: dict[tuple[str, date, str], int] = {
        (sender, day, "exchanges"): 1,
        (sender, day, "fully_electronic"): int(row.fully_electronic),
        (sender, day, "signed"): int(row.signed),
        (sender, day, "taken_back"): int(row.taken_back),
    }
    if row.reasons:
        for code in row.reasons.split(","):
            daily[(sender, day, _REASON_COLUMN[code])] = 1
    latency: dict[tuple[str, date, str, int], int] = {}
    for d in deliveries:
        if d.due_state != DueState.NOT_DUE and d.due_day is not None:
            for key in (
                (d.recipient_code, d.due_day, "due"),
                (d.recipient_code, d.due_day, d.due_state),
            ):
                daily[key] = daily.get(key, 0) + 1
        if d.delivery_bucket is not None:
            key4 = (sender, day, _SENT_TO_ARRIVED, d.delivery_bucket)
            latency[key4] = latency.get(key4, 0) + 1
        if d.registration_bucket is not None:
            key4 = (sender, day, _ARRIVED_TO_REGISTERED, d.registration_bucket)
            latency[key4] = latency.get(key4, 0) + 1
    return Contribution(daily, latency)


_REASON_COLUMN = {r.value: reason_column(r) for r in Reason}
_SENT_TO_ARRIVED = Latency.SENT_TO_ARRIVED.value
_ARRIVED_TO_REGISTERED = Latency.ARRIVED_TO_REGISTERED.value


_ROWS = transaction_local("lienthong.ledger.rows")


@dataclass
class Held:
    """An exchange's ledger rows in this transaction: their facts as read (to write back
    only what changed) and, once a hook changed them, what they contributed before.
    The derived columns and the counters' difference are settled once, at commit,
    however many of the batch's messages changed the exchange."""

    row: ExchangeRow | None
    deliveries: list[DeliveryRow]
    before: Contribution | None = None  # None: not changed in this transaction
    new: bool = False
    read: dict[int, tuple[Any, ...]] = field(default_factory=dict)  # id(row) -> facts

    @classmethod
    def loaded(cls, row: ExchangeRow | None, deliveries: list[DeliveryRow]) -> Held:
        held = cls(row, deliveries)
        if row is not None:
            held.read[id(row)] = facts_of(row)
        for d in deliveries:
            held.read[id(d)] = facts_of(d)
        return held


def _held(session: Session) -> dict[str, Held]:
    held: dict[str, Held] = session.info.setdefault(_ROWS, {})
    return held


def preload(
    session: Session, *, documents: Iterable[str] = (), delivery_ids: Iterable[str] = ()
) -> None:
    """Read the ledger rows of these exchanges (and of these deliveries' exchanges) in
    one query, for the rest of the transaction: a batch's hooks then read none. Rows
    already held (and maybe changed) in this transaction are kept as they are."""
    held = _held(session)
    documents = sorted(set(documents) - held.keys())
    ids = sorted(set(delivery_ids))
    with session.no_autoflush:
        for i in range(0, max(len(ids), len(documents)), 5000):
            exchanges, deliveries = ledger_rows.read(
                session, documents[i : i + 5000], ids[i : i + 5000]
            )
            rows = {r.document: r for r in exchanges if r.document not in held}
            found: dict[str, list[DeliveryRow]] = {}
            for d in deliveries:
                if d.document in rows:
                    found.setdefault(d.document, []).append(d)
            for document in rows.keys() | (set(documents[i : i + 5000]) - held.keys()):
                held[document] = Held.loaded(rows.get(document), found.get(document, []))


def _load(session: Session, document: str) -> Held:
    held = _held(session)
    if document not in held:
        preload(session, documents=[document])
    return held[document]


@before_rows_at_commit
def _apply_pending(session: Session) -> None:
    """Settle every exchange the transaction changed, write its new and changed ledger
    rows, then move the counters by the summed differences: one statement per table."""
    held: dict[str, Held] = session.info.pop(_ROWS, None) or {}
    new_exchanges: list[ExchangeRow] = []
    changed_exchanges: list[ExchangeRow] = []
    new_deliveries: list[DeliveryRow] = []
    changed_deliveries: list[DeliveryRow] = []
    difference = Contribution.empty()
    for h in held.values():
        if h.row is None or h.before is None:
            continue
        settle(h.row, h.deliveries)
        difference.add(contribution(h.row, h.deliveries))
        difference.subtract(h.before)
        if h.new:
            new_exchanges.append(h.row)
            new_deliveries.extend(h.deliveries)
            continue
        if facts_of(h.row) != h.read.get(id(h.row)):
            changed_exchanges.append(h.row)
        changed_deliveries.extend(d for d in h.deliveries if facts_of(d) != h.read.get(id(d)))
    ledger_rows.insert(session, new_exchanges, new_deliveries)
    raw = driver_connection(session)
    # On PostgreSQL the updates and the counters' move go in one pipeline: neither
    # needs an answer, so the transaction waits for the server once, not per statement.
    with raw.pipeline() if raw is not None else nullcontext():
        ledger_rows.update(session, changed_exchanges, changed_deliveries)
        apply(session, difference)


def _change(
    session: Session,
    document: str,
    mutate: Callable[[ExchangeRow, list[DeliveryRow]], None],
) -> None:
    """Apply ``mutate`` to an exchange's facts; the counters move at commit. An
    exchange the ledger does not hold (recorded before it existed) is left to
    ``lienthong ledger rebuild``."""
    held = _load(session, document)
    row, deliveries = held.row, held.deliveries
    if row is None:
        return
    if held.before is None:
        # As read, the row is settled: what it contributes now is what it contributed.
        held.before = contribution(row, deliveries)
    mutate(row, deliveries)


def exchange_routed(
    session: Session,
    exchange: Exchange,
    deliveries: Iterable[Delivery],
    *,
    organization_signed: bool | None,
    scanned: bool | None,
) -> None:
    """A new exchange and its deliveries (the verdict too, when it came first)."""
    sent_day = vietnam_day(exchange.received_at)
    row = ExchangeRow(
        document=exchange.document,
        document_id=exchange.document_id,
        sender_code=exchange.sender_code,
        subject=exchange.subject,
        sent_at=exchange.received_at,
        sent_day=sent_day,
        scanned=scanned,
        organization_signed=organization_signed,
        paper=bool(exchange.paper),
        replaced=False,
    )
    rows = [
        DeliveryRow(
            delivery_id=d.id,
            document=exchange.document,
            sender_code=exchange.sender_code,
            recipient_code=d.recipient_code,
            sent_at=exchange.received_at,
            sent_day=sent_day,
            due_at=d.due_at,
            due_day=vietnam_day(d.due_at) if d.due_at else None,
        )
        for d in deliveries
    ]
    _held(session)[exchange.document] = Held(row, rows, Contribution.empty(), new=True)


def mark_status(row: DeliveryFields, code: str, at: datetime) -> None:
    """What one status event tells the ledger about a delivery (pure on the row)."""
    if code == Status.ARRIVED and row.arrived_at is None:
        row.arrived_at = at
    elif code == Status.REJECTED:
        row.rejected = True
    elif code == Status.TAKE_BACK_ACCEPTED:
        row.taken_back = True
    if code in REGISTERED_OR_LATER and row.registered_at is None:
        row.registered_at = at
    if code == Status.COMPLETED and row.completed_at is None:
        row.completed_at = at


def status_recorded(session: Session, delivery: Delivery, code: str, at: datetime) -> None:
    def mutate(_row: ExchangeRow, deliveries: list[DeliveryRow]) -> None:
        for d in deliveries:
            if d.delivery_id == delivery.id:
                mark_status(d, code, at)

    if code in (Status.TAKE_BACK_REQUESTED, Status.TAKE_BACK_REFUSED):
        return  # neither changes a fact the share needs
    _change(session, delivery.document, mutate)


def verdict_recorded(
    session: Session, document: str, *, organization_signed: bool, scanned: bool | None
) -> None:
    def mutate(row: ExchangeRow, _deliveries: list[DeliveryRow]) -> None:
        row.organization_signed = organization_signed
        row.scanned = scanned

    _change(session, document, mutate)


def exchange_replaced(session: Session, document: str) -> None:
    """An update or replacement superseded the exchange."""

    def mutate(row: ExchangeRow, _deliveries: list[DeliveryRow]) -> None:
        row.replaced = True

    _change(session, document, mutate)
