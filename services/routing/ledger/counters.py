"""The ledger's counters: what an exchange adds to them (``Contribution``), and
moving them by a difference, daily and monthly, each table in one statement."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.common.db import driver_connection
from services.routing.ledger.rules import LATENCY_BUCKETS, Reason, bucket_column, reason_column
from services.routing.models import LedgerDaily, LedgerLatency, LedgerLatencyMonthly, LedgerMonthly

#: The counters the figures are made of.
FIGURE_COUNTERS = (
    "exchanges",
    "fully_electronic",
    "signed",
    "taken_back",
    "due",
    "on_time",
    "late",
    "open",
)
#: Exchanges per reason they are not fully electronic.
REASON_COUNTERS = tuple(reason_column(r) for r in Reason)
#: Every column of the daily and monthly counters.
DAILY_COUNTERS = FIGURE_COUNTERS + REASON_COUNTERS
DailyKey = tuple[str, date]
LatencyKey = tuple[str, date, str, int]
K = TypeVar("K")


@dataclass
class Contribution:
    """What one exchange adds to the counters (plain dicts: the feed makes two per
    exchange it changes, and a Counter's missing-key hook costs a call per key)."""

    daily: dict[tuple[str, date, str], int]
    latency: dict[LatencyKey, int]

    @classmethod
    def empty(cls) -> Contribution:
        return cls({}, {})

    def add(self, other: Contribution, sign: int = 1) -> None:
        _merge(self.daily, other.daily, sign)
        _merge(self.latency, other.latency, sign)

    def subtract(self, other: Contribution) -> None:
        self.add(other, -1)


def _merge(mine: dict[K, int], theirs: dict[K, int], sign: int) -> None:
    get = mine.get
    for key, n in theirs.items():
        mine[key] = get(key, 0) + sign * n


def _insert(session: Session, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"the ledger needs PostgreSQL or SQLite, not {name}")


_DAILY = cast(sa.Table, LedgerDaily.__table__)
_MONTHLY = cast(sa.Table, LedgerMonthly.__table__)
_LATENCY = cast(sa.Table, LedgerLatency.__table__)
_LATENCY_MONTHLY = cast(sa.Table, LedgerLatencyMonthly.__table__)
_BUCKETS = tuple(bucket_column(i) for i in range(LATENCY_BUCKETS))


def as_json(rows: list[dict[str, object]]) -> str:
    """Rows for ``json_to_recordset``: one text parameter, encoded by the json module's C
    code, where one array per column costs the driver a Python call per value."""
    return json.dumps(rows, default=_iso, separators=(",", ":"), ensure_ascii=False)


def _iso(value: object) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a ledger value")


def record_columns(table: sa.Table, names: Iterable[str], dialect: sa.Dialect) -> str:
    """``name type, ...``: the record a JSON row is read as."""
    return ", ".join(f"{n} {table.c[n].type.compile(dialect=dialect)}" for n in names)


def _upsert(
    session: Session, table: sa.Table, keys: tuple[str, ...], rows: list[dict[str, object]]
) -> None:
    """Add each row's counters to the row with its key (made on first use). The keys
    are distinct: one executemany of one statement."""
    if not rows:
        return
    counters = [c.name for c in table.columns if c.name not in keys]
    insert = _insert(session, table)
    statement = insert.on_conflict_do_update(
        index_elements=list(keys),
        set_={c: table.c[c] + insert.excluded[c] for c in counters},
    )
    session.execute(statement, rows)


def apply(session: Session, change: Contribution) -> None:
    """Move the counters, daily and monthly, by ``change``: on PostgreSQL one statement
    for the four tables (``_MOVE_SQL``), elsewhere one upsert per table."""
    raw = driver_connection(session)
    if raw is not None:
        moves = _moves_as_json(change)
        if moves is not None:
            raw.execute(_MOVE_SQL, {"moves": moves})
        return
    _apply_per_table(session, change)


def _moves_as_json(change: Contribution) -> str | None:
    """The change as it is kept, one entry per counter that moves: ``[agency, day,
    counter, n]`` and ``[agency, day, kind, bucket, n]``. Sums per row and per month
    are PostgreSQL's work; here only strings and numbers, which the json module's C
    code encodes."""
    days: dict[date, str] = {}

    def iso(day: date) -> str:
        text = days.get(day)
        if text is None:
            text = days[day] = day.isoformat()
        return text

    daily = [[a, iso(d), c, n] for (a, d, c), n in change.daily.items() if n]
    latency = [[a, iso(d), k, b, n] for (a, d, k, b), n in change.latency.items() if n]
    if not daily and not latency:
        return None
    return json.dumps({"d": daily, "l": latency}, separators=(",", ":"), ensure_ascii=False)


def _sums(column: str, values: tuple[object, ...], names: tuple[str, ...]) -> str:
    """Pivot the moves: one summed column per counter (or bucket)."""
    return ", ".join(
        f"COALESCE(SUM(n) FILTER (WHERE {column} = {value!r}), 0)::int AS {name}"
        for value, name in zip(values, names, strict=True)
    )


def _upsert_select(table: sa.Table, keys: tuple[str, ...], select: str) -> str:
    names = [c.name for c in table.columns]
    moved = [n for n in names if n not in keys]
    return (
        f"INSERT INTO {table.name} ({', '.join(names)}) {select} "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
        + ", ".join(f"{c} = {table.name}.{c} + EXCLUDED.{c}" for c in moved)
    )


_MONTH = "CAST(date_trunc('month', day) AS date)"
_DAILY_SUMS = _sums("c", DAILY_COUNTERS, DAILY_COUNTERS)
_BUCKET_SUMS = _sums("b", tuple(range(LATENCY_BUCKETS)), _BUCKETS)
_MOVE_SQL = (
    "WITH moves AS (SELECT CAST(%(moves)s AS json) AS j), "
    "daily AS (SELECT e->>0 AS agency, CAST(e->>1 AS date) AS day, e->>2 AS c, "
    "CAST(e->>3 AS int) AS n FROM moves, json_array_elements(j->'d') AS e), "
    "latency AS (SELECT e->>0 AS agency, CAST(e->>1 AS date) AS day, e->>2 AS kind, "
    "CAST(e->>3 AS int) AS b, CAST(e->>4 AS int) AS n "
    "FROM moves, json_array_elements(j->'l') AS e), "
    "by_day AS ("
    + _upsert_select(
        _DAILY,
        ("agency", "day"),
        f"SELECT agency, day, {_DAILY_SUMS} FROM daily GROUP BY agency, day",
    )
    + "), by_month AS ("
    + _upsert_select(
        _MONTHLY,
        ("agency", "month"),
        f"SELECT agency, {_MONTH}, {_DAILY_SUMS} FROM daily GROUP BY agency, {_MONTH}",
    )
    + "), latency_by_day AS ("
    + _upsert_select(
        _LATENCY,
        ("agency", "day", "kind"),
        f"SELECT agency, day, kind, {_BUCKET_SUMS} FROM latency GROUP BY agency, day, kind",
    )
    + ") "
    + _upsert_select(
        _LATENCY_MONTHLY,
        ("agency", "month", "kind"),
        f"SELECT agency, {_MONTH}, kind, {_BUCKET_SUMS} FROM latency "
        f"GROUP BY agency, {_MONTH}, kind",
    )
)
"""PostgreSQL: the moves read from one JSON parameter, summed per agency and day (and
month), each of the four tables upserted by its own data-modifying CTE."""


def _apply_per_table(session: Session, change: Contribution) -> None:
    """The counters moved by summing in Python, one upsert per table (SQLite)."""
    days: dict[DailyKey, dict[str, int]] = {}
    months: dict[DailyKey, dict[str, int]] = {}
    for (agency, day, column), n in change.daily.items():
        if n:
            for target, key in ((days, (agency, day)), (months, (agency, day.replace(day=1)))):
                counters = target.setdefault(key, dict.fromkeys(DAILY_COUNTERS, 0))
                counters[column] += n
    latency: dict[tuple[str, date, str], dict[str, int]] = {}
    latency_months: dict[tuple[str, date, str], dict[str, int]] = {}
    for (agency, day, kind, bucket), n in change.latency.items():
        if n:
            for buckets, start in ((latency, day), (latency_months, day.replace(day=1))):
                counts = buckets.setdefault((agency, start, kind), dict.fromkeys(_BUCKETS, 0))
                counts[bucket_column(bucket)] += n
    _upsert(
        session,
        _DAILY,
        ("agency", "day"),
        [{"agency": a, "day": d, **c} for (a, d), c in sorted(days.items()) if any(c.values())],
    )
    _upsert(
        session,
        _MONTHLY,
        ("agency", "month"),
        [{"agency": a, "month": m, **c} for (a, m), c in sorted(months.items()) if any(c.values())],
    )
    for table, period, buckets in (
        (_LATENCY, "day", latency),
        (_LATENCY_MONTHLY, "month", latency_months),
    ):
        _upsert(
            session,
            table,
            ("agency", period, "kind"),
            [
                {"agency": a, period: d, "kind": k, **c}
                for (a, d, k), c in sorted(buckets.items())
                if any(c.values())
            ],
        )


# --- the rows a transaction works on, and the counters it moves at commit ------------
