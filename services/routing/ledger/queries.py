"""The e-share figures, summed from the ledger's daily and monthly counters (what is
behind them is listed by ``listings``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.common.db import Database
from services.common.errors import BadRequest
from services.common.internal_api import (
    EShareAnswer,
    EShareFigures,
    EShareQuery,
    EShareRow,
    LatencyFigures,
)
from services.routing.ledger.counters import DAILY_COUNTERS
from services.routing.ledger.period_sums import in_ranges, split_period
from services.routing.ledger.rules import (
    LATENCY_BUCKETS,
    Latency,
    Reason,
    bucket_column,
    percentile,
    reason_column,
    vietnam_day,
)
from services.routing.ledger.scope import in_codes, scope_with_names
from services.routing.models import (
    LedgerDaily,
    LedgerLatency,
    LedgerLatencyMonthly,
    LedgerMonthly,
)

BUCKET_COLUMNS = tuple(bucket_column(i) for i in range(LATENCY_BUCKETS))


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _latency(counts: Counter[int]) -> LatencyFigures:
    buckets = dict(counts)
    return {
        "count": sum(buckets.values()),
        "p50": percentile(buckets, 0.5),
        "p90": percentile(buckets, 0.9),
        "p95": percentile(buckets, 0.95),
    }


def figures(
    counters: Counter[str], overdue: int, latency: dict[str, Counter[int]]
) -> EShareFigures:
    """The figures of summed counters (pure)."""
    return {
        "exchanges": counters["exchanges"],
        "fully_electronic": counters["fully_electronic"],
        "share": _share(counters["fully_electronic"], counters["exchanges"]),
        "signed": counters["signed"],
        "signed_share": _share(counters["signed"], counters["exchanges"]),
        "taken_back": counters["taken_back"],
        "due": counters["due"],
        "on_time": counters["on_time"],
        "late": counters["late"],
        "on_time_share": _share(counters["on_time"], counters["due"]),
        "overdue": overdue,
        "latency_sent_to_arrived": _latency(latency.get(Latency.SENT_TO_ARRIVED, Counter())),
        "latency_arrived_to_registered": _latency(
            latency.get(Latency.ARRIVED_TO_REGISTERED, Counter())
        ),
        "reasons": {r.value: counters[reason_column(r)] for r in Reason},
    }


def group_key(group_by: str, day: date) -> str:
    if group_by == "day":
        return day.isoformat()
    if group_by == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if group_by == "quarter":
        return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"
    raise BadRequest(f"cannot group by {group_by}")


_COUNTED = len(DAILY_COUNTERS)
_OPEN = DAILY_COUNTERS.index("open")


class Sums:
    """Counters summed per group: DAILY_COUNTERS in order, then the overdue ones; the
    latency bucket counts per kind."""

    def __init__(self) -> None:
        self.counters: dict[str, list[int]] = {}
        self.latency: dict[str, dict[str, list[int]]] = {}

    def add_daily(self, key: str, row: Any) -> None:
        """``row`` ends with ``past`` (its days are before today, so what is open there
        is overdue) and the DAILY_COUNTERS sums (``_counter_rows``)."""
        sums = self.counters.get(key)
        if sums is None:
            sums = self.counters[key] = [0] * (_COUNTED + 1)
        values = tuple(row)[-_COUNTED:]
        for index, n in enumerate(values):
            if n:
                sums[index] += int(n)
        if row.past and values[_OPEN]:
            sums[_COUNTED] += int(values[_OPEN])

    def add_overdue(self, key: str, n: int) -> None:
        """Open work of days before today that no row above counted as overdue."""
        sums = self.counters.get(key)
        if sums is None:
            sums = self.counters[key] = [0] * (_COUNTED + 1)
        sums[_COUNTED] += n

    def add_latency(self, key: str, row: Any) -> None:
        """``row`` ends with the bucket counts (``_latency_rows``)."""
        kinds = self.latency.setdefault(key, {})
        counts = kinds.get(row.kind)
        if counts is None:
            counts = kinds[row.kind] = [0] * LATENCY_BUCKETS
        for index, n in enumerate(tuple(row)[-LATENCY_BUCKETS:]):
            if n:
                counts[index] += int(n)

    def merged(self) -> Sums:
        """Every group summed into one (key ``""``)."""
        out = Sums()
        total = out.counters[""] = [0] * (_COUNTED + 1)
        for sums in self.counters.values():
            for index, n in enumerate(sums):
                total[index] += n
        kinds = out.latency[""] = {}
        for by_kind in self.latency.values():
            for kind, counts in by_kind.items():
                into = kinds.setdefault(kind, [0] * LATENCY_BUCKETS)
                for index, n in enumerate(counts):
                    into[index] += n
        return out

    def figures(self, key: str) -> EShareFigures:
        sums = self.counters.get(key) or [0] * (_COUNTED + 1)
        counters = Counter(dict(zip(DAILY_COUNTERS, sums, strict=False)))
        latency = {
            kind: Counter({i: n for i, n in enumerate(counts) if n})
            for kind, counts in self.latency.get(key, {}).items()
        }
        return figures(counters, sums[_COUNTED], latency)


def _grouping(period: Any, agency: Any, by_day: bool, by_agency: bool) -> list[Any]:
    """The GROUP BY columns of a counters query: the period (as ``day``), the agency."""
    return ([period.label("day")] if by_day else []) + ([agency] if by_agency else [])


def _counter_rows(
    session: Session,
    model: type[LedgerDaily] | type[LedgerMonthly],
    column: str,
    codes: list[str],
    ranges: list[tuple[date, date]],
    past_before: date,
    by_day: bool,
    by_agency: bool,
) -> list[Any]:
    """Counters summed per group, and per side of ``past_before`` (the periods before it
    are past: what is open there is overdue)."""
    period = getattr(model, column)
    group = _grouping(period, model.agency, by_day, by_agency)
    split = period < past_before
    sums = [sa.func.sum(getattr(model, c)).label(c) for c in DAILY_COUNTERS]
    return list(
        session.execute(
            sa.select(*group, split.label("past"), *sums)
            .where(in_codes(session, model.agency, codes), in_ranges(period, ranges))
            .group_by(*group, split)
        )
    )


def _open_rows(
    session: Session, codes: list[str], first: date, last: date, by_day: bool, by_agency: bool
) -> list[Any]:
    """The open work of the days ``first`` … ``last``, summed per group."""
    group = _grouping(LedgerDaily.day, LedgerDaily.agency, by_day, by_agency)
    return list(
        session.execute(
            sa.select(*group, sa.func.sum(LedgerDaily.open).label("open"))
            .where(
                in_codes(session, LedgerDaily.agency, codes), LedgerDaily.day.between(first, last)
            )
            .group_by(*group)
        )
    )


def _latency_rows(
    session: Session,
    model: type[LedgerLatency] | type[LedgerLatencyMonthly],
    column: str,
    codes: list[str],
    ranges: list[tuple[date, date]],
    by_day: bool,
    by_agency: bool,
) -> list[Any]:
    """Bucket counts summed per group and kind (``b00`` … ``b17``)."""
    table = cast(sa.Table, model.__table__)
    period = table.c[column]
    group = _grouping(period, table.c.agency, by_day, by_agency)
    sums = [sa.func.sum(table.c[b]).label(b) for b in BUCKET_COLUMNS]
    return list(
        session.execute(
            sa.select(*group, table.c.kind, *sums)
            .where(in_codes(session, table.c.agency, codes), in_ranges(period, ranges))
            .group_by(*group, table.c.kind)
        )
    )


def add_counters(
    session: Session,
    sums: Sums,
    codes: list[str],
    start: date,
    end: date,
    today: date,
    group_by: str | None,
) -> None:
    """The counters of these agencies over the period into ``sums``, per group: every
    whole month from the monthly counters (the current one too), the days around them
    from the daily ones. What is open on a day before today is overdue: a month that
    has not ended before today counts none of it from its monthly row, and its days
    before today are read for their open work alone."""
    by_day = group_by not in (None, "agency")
    by_agency = group_by == "agency"
    months, days = split_period(start, end, date.max)
    if group_by == "day":
        months, days = None, [(start, end)]
    this_month = today.replace(day=1)
    for counters, column, ranges, past_before in (
        (LedgerDaily, "day", days, today),
        (LedgerMonthly, "month", [months] if months else [], this_month),
    ):
        if ranges:
            for row in _counter_rows(
                session, counters, column, codes, ranges, past_before, by_day, by_agency
            ):
                sums.add_daily(_key(group_by, row), row)
    if months and months[0] <= this_month <= months[1] and this_month < today:
        for row in _open_rows(
            session, codes, this_month, today - timedelta(days=1), by_day, by_agency
        ):
            sums.add_overdue(_key(group_by, row), int(row.open or 0))


def add_latency(
    session: Session, sums: Sums, codes: list[str], start: date, end: date, group_by: str | None
) -> None:
    """The latency buckets of these agencies over the period into ``sums``, per group:
    every whole month of the period from the monthly counts (no today to split at)."""
    by_day = group_by not in (None, "agency")
    by_agency = group_by == "agency"
    months, days = split_period(start, end, date.max)
    if group_by == "day":
        months, days = None, [(start, end)]
    for buckets, column, ranges in (
        (LedgerLatency, "day", days),
        (LedgerLatencyMonthly, "month", [months] if months else []),
    ):
        if ranges:
            for row in _latency_rows(session, buckets, column, codes, ranges, by_day, by_agency):
                sums.add_latency(_key(group_by, row), row)


def _key(group_by: str | None, row: Any) -> str:
    """The group a summed row belongs to."""
    if group_by == "agency":
        return str(row.agency)
    if group_by is None:
        return ""
    return group_key(group_by, row.day)


def e_share(db: Database, query: EShareQuery, *, now: datetime | None = None) -> EShareAnswer:
    """The figures of the agencies in scope over the period, and per group when asked."""
    now = now or datetime.now(UTC)
    today = vietnam_day(now)
    sums = Sums()
    with db.reading() as session:
        scope = scope_with_names(
            session, query.viewer, query.agency, include_children=query.include_children
        )
        codes, agency_names = scope.codes, scope.names
        add_counters(session, sums, codes, query.start, query.end, today, query.group_by)
        add_latency(session, sums, codes, query.start, query.end, query.group_by)
    groups, totals = sums, sums.merged() if query.group_by else sums
    rows: list[EShareRow] = []
    if query.group_by:
        keys: Iterable[str] = codes if query.group_by == "agency" else sorted(groups.counters)
        for key in keys:
            row_out: EShareRow = {"group": key, **groups.figures(key)}
            if query.group_by == "agency":
                row_out["name"] = agency_names.get(key, key)
            rows.append(row_out)
    return {
        "agency": query.agency,
        "name": agency_names.get(query.agency),
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "include_children": query.include_children,
        "agencies": codes,
        "as_of": now.isoformat(),
        "totals": totals.figures(""),
        "group_by": query.group_by,
        "rows": rows,
    }
