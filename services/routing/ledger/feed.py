"""Keeping the ledger as routing records things: each hook updates an exchange's
facts in the caller's transaction, then moves the daily counters by the difference
between what the exchange contributed before and what it contributes now.

Every writer of routing's records holds the audit head lock (``audit.lock_head``)
before it touches a delivery, so counter rows are never updated concurrently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.common.contract import Status
from services.routing.ledger.rules import (
    REGISTERED_OR_LATER,
    DeliveryFacts,
    DueState,
    ExchangeFacts,
    Latency,
    classify,
    due_state,
    encode_reasons,
    latency_bucket,
    vietnam_day,
)
from services.routing.models import (
    Delivery,
    Exchange,
    LedgerDaily,
    LedgerDelivery,
    LedgerExchange,
    LedgerLatency,
)

DAILY_COUNTERS = (
    "exchanges",
    "fully_electronic",
    "signed",
    "taken_back",
    "due",
    "on_time",
    "late",
    "open",
)
DailyKey = tuple[str, date]
LatencyKey = tuple[str, date, str, int]


@dataclass
class Contribution:
    """What one exchange adds to the counters."""

    daily: Counter[tuple[str, date, str]]
    latency: Counter[LatencyKey]

    @classmethod
    def empty(cls) -> Contribution:
        return cls(Counter(), Counter())

    def add(self, other: Contribution) -> None:
        self.daily.update(other.daily)
        self.latency.update(other.latency)

    def minus(self, other: Contribution) -> Contribution:
        daily: Counter[tuple[str, date, str]] = Counter(self.daily)
        daily.subtract(other.daily)
        latency: Counter[LatencyKey] = Counter(self.latency)
        latency.subtract(other.latency)
        return Contribution(daily, latency)


def delivery_facts(row: LedgerDelivery) -> DeliveryFacts:
    return DeliveryFacts(
        arrived_at=row.arrived_at,
        registered_at=row.registered_at,
        completed_at=row.completed_at,
        rejected=row.rejected,
        taken_back=row.taken_back,
    )


def exchange_facts(row: LedgerExchange, deliveries: Iterable[LedgerDelivery]) -> ExchangeFacts:
    return ExchangeFacts(
        scanned=row.scanned,
        organization_signed=row.organization_signed,
        paper=row.paper,
        replaced=row.replaced,
        deliveries=tuple(delivery_facts(d) for d in deliveries),
    )


def settle(row: LedgerExchange, deliveries: Iterable[LedgerDelivery]) -> None:
    """Derive what follows from the facts: the classification and, per delivery, its
    deadline state and latency buckets."""
    deliveries = list(deliveries)
    for d in deliveries:
        d.due_state = due_state(
            d.due_at, d.completed_at, rejected=d.rejected, taken_back=d.taken_back
        )
        if d.arrived_at is not None:
            d.delivery_bucket = latency_bucket((d.arrived_at - d.sent_at).total_seconds())
            if d.registered_at is not None:
                seconds = max((d.registered_at - d.arrived_at).total_seconds(), 0.0)
                d.registration_bucket = latency_bucket(seconds)
    verdict = classify(exchange_facts(row, deliveries))
    row.fully_electronic = verdict.fully_electronic
    row.signed = verdict.signed
    row.taken_back = verdict.taken_back
    row.reasons = encode_reasons(verdict.reasons)


def contribution(row: LedgerExchange, deliveries: Iterable[LedgerDelivery]) -> Contribution:
    """What a settled exchange adds to the daily and latency counters."""
    out = Contribution.empty()
    sent = (row.sender_code, row.sent_day)
    out.daily[(*sent, "exchanges")] += 1
    out.daily[(*sent, "fully_electronic")] += int(row.fully_electronic)
    out.daily[(*sent, "signed")] += int(row.signed)
    out.daily[(*sent, "taken_back")] += int(row.taken_back)
    for d in deliveries:
        if d.due_state != DueState.NOT_DUE and d.due_day is not None:
            due = (d.recipient_code, d.due_day)
            out.daily[(*due, "due")] += 1
            out.daily[(*due, d.due_state)] += 1
        if d.delivery_bucket is not None:
            out.latency[(*sent, Latency.SENT_TO_ARRIVED.value, d.delivery_bucket)] += 1
        if d.registration_bucket is not None:
            out.latency[(*sent, Latency.ARRIVED_TO_REGISTERED.value, d.registration_bucket)] += 1
    return out


def _insert(session: Session, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"the ledger needs PostgreSQL or SQLite, not {name}")


_DAILY = cast(sa.Table, LedgerDaily.__table__)
_LATENCY = cast(sa.Table, LedgerLatency.__table__)


def apply(session: Session, change: Contribution) -> None:
    """Move the counters by ``change`` (rows are created on first use)."""
    by_day: dict[DailyKey, dict[str, int]] = {}
    for (agency, day, column), n in change.daily.items():
        if n:
            by_day.setdefault((agency, day), {})[column] = n
    for (agency, day), columns in sorted(by_day.items()):
        values = {c: columns.get(c, 0) for c in DAILY_COUNTERS}
        daily = _insert(session, _DAILY).values(agency=agency, day=day, **values)
        session.execute(
            daily.on_conflict_do_update(
                index_elements=["agency", "day"],
                set_={c: _DAILY.c[c] + daily.excluded[c] for c in columns},
            )
        )
    for (agency, day, kind, bucket), n in sorted(change.latency.items()):
        if not n:
            continue
        latency = _insert(session, _LATENCY).values(
            agency=agency, day=day, kind=kind, bucket=bucket, count=n
        )
        session.execute(
            latency.on_conflict_do_update(
                index_elements=["agency", "day", "kind", "bucket"],
                set_={"count": _LATENCY.c["count"] + latency.excluded["count"]},
            )
        )


# --- the hooks routing calls as it records things ---------------------------------


def _deliveries(session: Session, document: str) -> list[LedgerDelivery]:
    return list(
        session.scalars(sa.select(LedgerDelivery).where(LedgerDelivery.document == document))
    )


def _change(
    session: Session, document: str, mutate: Callable[[LedgerExchange, list[LedgerDelivery]], None]
) -> None:
    """Apply ``mutate`` to an exchange's facts and move the counters accordingly. An
    exchange the ledger does not hold (recorded before it existed) is left to
    ``lienthong ledger rebuild``."""
    row = session.get(LedgerExchange, document)
    if row is None:
        return
    deliveries = _deliveries(session, document)
    before = contribution(row, deliveries)
    mutate(row, deliveries)
    settle(row, deliveries)
    apply(session, contribution(row, deliveries).minus(before))


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
    row = LedgerExchange(
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
        LedgerDelivery(
            delivery_id=d.id,
            document=exchange.document,
            sender_code=exchange.sender_code,
            recipient_code=d.recipient_code,
            sent_at=exchange.received_at,
            sent_day=sent_day,
            rejected=False,
            taken_back=False,
            due_at=d.due_at,
            due_day=vietnam_day(d.due_at) if d.due_at else None,
        )
        for d in deliveries
    ]
    settle(row, rows)
    session.add(row)
    session.add_all(rows)
    apply(session, contribution(row, rows))


def mark_status(row: LedgerDelivery, code: str, at: datetime) -> None:
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
    def mutate(_row: LedgerExchange, deliveries: list[LedgerDelivery]) -> None:
        for d in deliveries:
            if d.delivery_id == delivery.id:
                mark_status(d, code, at)

    if code in (Status.TAKE_BACK_REQUESTED, Status.TAKE_BACK_REFUSED):
        return  # neither changes a fact the share needs
    _change(session, delivery.document, mutate)


def verdict_recorded(
    session: Session, document: str, *, organization_signed: bool, scanned: bool | None
) -> None:
    def mutate(row: LedgerExchange, _deliveries: list[LedgerDelivery]) -> None:
        row.organization_signed = organization_signed
        row.scanned = scanned

    _change(session, document, mutate)


def exchange_replaced(session: Session, document: str) -> None:
    """An update or replacement superseded the exchange."""

    def mutate(row: LedgerExchange, _deliveries: list[LedgerDelivery]) -> None:
        row.replaced = True

    _change(session, document, mutate)
