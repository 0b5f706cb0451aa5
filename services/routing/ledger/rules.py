"""The e-document share: when an exchange is fully electronic, and why not. Pure.

An exchange is **fully electronic** when the document was born digital (not a scan
of paper), carries a valid signature of the sending organization, was delivered
through the platform, no paper copy was sent (edXML ``Paper`` = 0), and every
recipient registered it (status 03 or later) through the platform. A document whose
pages carry only images and no text layer counts as scanned; signing decides it once,
on arrival, and announces it with its verdict (``document.verified`` v2).

Every exchange carries the reasons it is not fully electronic (none when it is), as
codes with Vietnamese labels: the list the monitors read behind every figure.

Periods are Vietnam calendar days (UTC+7, no daylight saving time).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Protocol

from services.common.contract import Reason, Status

VIETNAM = timezone(timedelta(hours=7))

#: A recipient registered the document (vào sổ): 03, or any later working status.
REGISTERED_OR_LATER = frozenset(
    {Status.REGISTERED, Status.ASSIGNED, Status.PROCESSING, Status.COMPLETED}
)


def vietnam_day(at: datetime) -> date:
    """The Vietnam calendar day of an instant (a naive time is taken as UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(VIETNAM).date()


@dataclass(frozen=True)
class DeliveryFacts:
    """What the ledger knows of one recipient's copy."""

    arrived_at: datetime | None  # 01
    registered_at: datetime | None  # the first 03 or later
    completed_at: datetime | None  # 06
    rejected: bool  # 02
    taken_back: bool  # the recipient accepted a take-back (15)


@dataclass(frozen=True)
class ExchangeFacts:
    """What the ledger knows of one exchange. ``scanned`` and ``organization_signed``
    are None until signing's verdict on the document has arrived."""

    scanned: bool | None
    organization_signed: bool | None
    paper: bool
    replaced: bool  # an update or replacement superseded it
    deliveries: tuple[DeliveryFacts, ...]


@dataclass(frozen=True)
class Classification:
    fully_electronic: bool
    signed: bool
    taken_back: bool
    reasons: tuple[Reason, ...]


class DeliveryFactsLike(Protocol):
    """What ``classify`` reads of a copy: ``DeliveryFacts``, or a ledger row."""

    @property
    def arrived_at(self) -> datetime | None: ...
    @property
    def registered_at(self) -> datetime | None: ...
    @property
    def rejected(self) -> bool: ...
    @property
    def taken_back(self) -> bool: ...


class ExchangeFactsLike(Protocol):
    @property
    def scanned(self) -> bool | None: ...
    @property
    def organization_signed(self) -> bool | None: ...
    @property
    def paper(self) -> bool: ...
    @property
    def replaced(self) -> bool: ...


def classify(facts: ExchangeFacts) -> Classification:
    """Whether the exchange is fully electronic, and every reason it is not."""
    return classify_exchange(facts, facts.deliveries)


def classify_exchange(
    facts: ExchangeFactsLike, deliveries: Sequence[DeliveryFactsLike]
) -> Classification:
    """``classify`` on an exchange's facts and its copies' as they are held (the feed
    and the rebuild pass their rows, without copying them into ``ExchangeFacts``)."""
    reasons: list[Reason] = []
    if facts.scanned is None and facts.organization_signed is None:
        reasons.append(Reason.NOT_VERIFIED)
    else:
        if facts.scanned is None:
            reasons.append(Reason.SCAN_UNKNOWN)
        elif facts.scanned:
            reasons.append(Reason.SCANNED)
        if not facts.organization_signed:
            reasons.append(Reason.NOT_SIGNED)
    if facts.paper:
        reasons.append(Reason.PAPER)
    taken_back = facts.replaced or any(d.taken_back for d in deliveries)
    if taken_back:
        reasons.append(Reason.TAKEN_BACK)
    live = [d for d in deliveries if not d.taken_back]
    if not deliveries or any(d.arrived_at is None for d in live):
        reasons.append(Reason.NOT_DELIVERED)
    if any(d.rejected for d in live):
        reasons.append(Reason.REJECTED)
    if any(d.registered_at is None and not d.rejected for d in live):
        reasons.append(Reason.NOT_REGISTERED)
    return Classification(
        fully_electronic=not reasons,
        signed=bool(facts.organization_signed),
        taken_back=taken_back,
        reasons=tuple(reasons),
    )


def reason_column(reason: Reason) -> str:
    """The counter column of a reason: ``reason_not_signed`` …"""
    return f"reason_{reason.value}"


def encode_reasons(reasons: Iterable[Reason]) -> str:
    """Stored as one short text column: ``scanned,paper``."""
    return ",".join(reasons)


def decode_reasons(text: str | None) -> tuple[Reason, ...]:
    return tuple(Reason(code) for code in (text or "").split(",") if code)


# --- deadlines: the recipient's side ------------------------------------------


class DueState(StrEnum):
    NOT_DUE = "not_due"  # no due time, or taken back / rejected: nothing owed
    ON_TIME = "on_time"  # completed (06) by its due time
    LATE = "late"  # completed after its due time
    OPEN = "open"  # not completed yet (overdue once its due time has passed)


def due_state(
    due_at: datetime | None, completed_at: datetime | None, *, rejected: bool, taken_back: bool
) -> DueState:
    if due_at is None or rejected or taken_back:
        return DueState.NOT_DUE
    if completed_at is None:
        return DueState.OPEN
    return DueState.ON_TIME if completed_at <= due_at else DueState.LATE


# --- latency: fixed buckets, so that days can be summed ---------------------------

#: Upper bounds (seconds) of the latency buckets; the last bucket is unbounded.
LATENCY_BOUNDS: tuple[int, ...] = (
    10,
    30,
    60,
    120,
    300,
    600,
    1800,
    3600,
    2 * 3600,
    4 * 3600,
    8 * 3600,
    24 * 3600,
    2 * 86400,
    3 * 86400,
    7 * 86400,
    14 * 86400,
    30 * 86400,
)


#: How many buckets (the last one past every bound).
LATENCY_BUCKETS = len(LATENCY_BOUNDS) + 1


def bucket_column(index: int) -> str:
    """The counter column of a latency bucket: ``b00`` … ``b17``."""
    return f"b{index:02d}"


class Latency(StrEnum):
    SENT_TO_ARRIVED = "sent_01"  # sent → 01 (delivery)
    ARRIVED_TO_REGISTERED = "01_03"  # 01 → 03 (registration)


def latency_bucket(seconds: float) -> int:
    """The index of the bucket a latency falls in (0 .. len(LATENCY_BOUNDS)): the first
    bound it does not pass."""
    return bisect_left(LATENCY_BOUNDS, seconds)


def bucket_upper(index: int) -> int | None:
    """The upper bound of a bucket in seconds (None: beyond the last bound)."""
    return LATENCY_BOUNDS[index] if index < len(LATENCY_BOUNDS) else None


def percentile(counts: dict[int, int], q: float) -> int | None:
    """The q-quantile (0 < q <= 1) of a bucketed distribution, as the upper bound of
    the bucket it falls in (seconds); None when there is nothing, or when it falls in
    the unbounded last bucket (reported as "more than 30 days" by the callers)."""
    total = sum(counts.values())
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for index in sorted(counts):
        seen += counts[index]
        if seen >= rank:
            return bucket_upper(index)
    return None
