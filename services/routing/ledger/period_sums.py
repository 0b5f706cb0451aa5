"""Daily counters summed over a period: whole months from the monthly counters, the
days around them from the daily ones (``split_period``), in all or per agency."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.routing.ledger.scope import in_codes
from services.routing.models import LedgerDaily, LedgerMonthly


def _month_end(day: date) -> date:
    following = date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)
    return following - timedelta(days=1)


def split_period(
    start: date, end: date, today: date
) -> tuple[tuple[date, date] | None, list[tuple[date, date]]]:
    """The whole months of the period that ended before today (read from the monthly
    counters: first and last month), and the days around them (from the daily ones)."""
    first = start if start.day == 1 else _month_end(start) + timedelta(days=1)
    limit = min(end, today - timedelta(days=1))
    last = limit if _month_end(limit) == limit else limit.replace(day=1) - timedelta(days=1)
    if first > last:
        return None, [(start, end)]
    days = []
    if start < first:
        days.append((start, first - timedelta(days=1)))
    if last < end:
        days.append((last + timedelta(days=1), end))
    return (first, last.replace(day=1)), days


def in_ranges(column: Any, ranges: list[tuple[date, date]]) -> sa.ColumnElement[bool]:
    return sa.or_(*(column.between(a, b) for a, b in ranges))


def counter_sums(
    session: Session,
    codes: list[str],
    start: date,
    end: date,
    columns: tuple[str, ...],
    *,
    today: date = date.max,
) -> dict[str, int]:
    """These daily counters of these agencies summed over the days ``start`` … ``end``:
    the whole months that ended before ``today`` from the monthly counters, the days
    around them from the daily ones. A figure over a national office's two years is
    then a few hundred rows, not a million."""
    return _summed(session, codes, start, end, columns, today, by_agency=False).get(
        "", dict.fromkeys(columns, 0)
    )


def counter_sums_by_agency(
    session: Session,
    codes: list[str],
    start: date,
    end: date,
    columns: tuple[str, ...],
    *,
    today: date = date.max,
) -> dict[str, dict[str, int]]:
    """``counter_sums`` per agency (only the agencies with a counter row in the period)."""
    return _summed(session, codes, start, end, columns, today, by_agency=True)


def _summed(
    session: Session,
    codes: list[str],
    start: date,
    end: date,
    columns: tuple[str, ...],
    today: date,
    *,
    by_agency: bool,
) -> dict[str, dict[str, int]]:
    """The counters summed per agency, or in all (key ``""``)."""
    out: dict[str, dict[str, int]] = {}
    if end < start:
        return out
    months, days = split_period(start, end, today)
    for model, column, ranges in (
        (LedgerDaily, "day", days),
        (LedgerMonthly, "month", [months] if months else []),
    ):
        if ranges:
            period = getattr(model, column)
            key = model.agency if by_agency else sa.literal("")
            rows = session.execute(
                sa.select(key, *(sa.func.sum(getattr(model, c)) for c in columns))
                .where(in_codes(session, model.agency, codes), in_ranges(period, ranges))
                .group_by(*([model.agency] if by_agency else []))
            )
            for group, *values in rows:
                sums = out.setdefault(group, dict.fromkeys(columns, 0))
                for name, value in zip(columns, values, strict=True):
                    sums[name] += int(value or 0)
    return out
