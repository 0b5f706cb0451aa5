"""The monitors' dashboard, pure: the default period, the levels of the registry below
a monitor, the ranking of the agencies and the figures of a level. No I/O: the figures
come from ingest's e-share API (``GET /v1/metrics/e-share``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from services.common.contract import Reason

GROUPS = ("day", "month", "quarter")
#: The longest period a dashboard asks for at once (the API's own limit is larger).
MAX_DAYS = 2 * 366


def quarter_of(day: date) -> tuple[date, date]:
    """The first and last day of the quarter ``day`` falls in."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    end_month = first_month + 3
    end = (
        date(day.year + 1, 1, 1) if end_month > 12 else date(day.year, end_month, 1)
    ) - timedelta(days=1)
    return start, end


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    group_by: str

    @classmethod
    def parse(cls, args: Mapping[str, str], today: date) -> Period:
        """From the form (``from``, ``to``, ``group_by``); the current quarter by
        month when left out; a bad value falls back to the default, never an error page."""
        start, end = quarter_of(today)
        try:
            start = date.fromisoformat(args.get("from") or start.isoformat())
            end = date.fromisoformat(args.get("to") or end.isoformat())
        except ValueError:
            start, end = quarter_of(today)
        if end < start:
            start, end = end, start
        if (end - start).days >= MAX_DAYS:
            start = end - timedelta(days=MAX_DAYS - 1)
        group_by = args.get("group_by") or "month"
        if group_by not in GROUPS:
            group_by = "month"
        return cls(start, end, group_by)


def depths(own: str, parents: Mapping[str, str | None]) -> dict[str, int]:
    """Every agency below ``own`` in the registry with its depth (``own`` is 0); levels
    come from the parent links, not from a fixed list of tiers."""
    children: dict[str, list[str]] = {}
    for code, parent in parents.items():
        if parent:
            children.setdefault(parent, []).append(code)
    found = {own: 0}
    frontier = [own]
    while frontier:
        nxt: list[str] = []
        for code in frontier:
            for child in sorted(children.get(code, ())):
                if child not in found:
                    found[child] = found[code] + 1
                    nxt.append(child)
        frontier = nxt
    return found


@dataclass(frozen=True)
class Ranked:
    rank: int
    code: str
    name: str
    level: int
    exchanges: int
    fully_electronic: int
    share: float | None
    signed_share: float | None
    on_time_share: float | None
    overdue: int
    registration_p50: float | None  # seconds, 01 → 03


def _p50(row: Mapping[str, Any]) -> float | None:
    latency = row.get("latency_arrived_to_registered") or {}
    value = latency.get("p50") if isinstance(latency, Mapping) else None
    return float(value) if isinstance(value, int | float) else None


def ranking(
    rows: Iterable[Mapping[str, Any]], depth_of: Mapping[str, int], level: int | None
) -> list[Ranked]:
    """Agencies (at ``level`` below the monitor, or all below it when ``None``) by their
    share of fully electronic exchanges, best first; those with nothing sent come last."""
    chosen = [
        r
        for r in rows
        if r["group"] in depth_of
        and depth_of[r["group"]] > 0
        and (level is None or depth_of[r["group"]] == level)
    ]
    chosen.sort(
        key=lambda r: (
            r.get("share") is None,
            -(r.get("share") or 0.0),
            -int(r.get("exchanges") or 0),
            r["group"],
        )
    )
    return [
        Ranked(
            rank=i + 1,
            code=str(r["group"]),
            name=str(r.get("name") or r["group"]),
            level=depth_of[r["group"]],
            exchanges=int(r.get("exchanges") or 0),
            fully_electronic=int(r.get("fully_electronic") or 0),
            share=r.get("share"),
            signed_share=r.get("signed_share"),
            on_time_share=r.get("on_time_share"),
            overdue=int(r.get("overdue") or 0),
            registration_p50=_p50(r),
        )
        for i, r in enumerate(chosen)
    ]


@dataclass(frozen=True)
class RankingPage:
    """One page of the ranking: ranks ``first`` … ``last`` of ``total``."""

    rows: list[Ranked]
    page: int
    pages: int
    total: int

    @property
    def first(self) -> int:
        return self.rows[0].rank if self.rows else 0

    @property
    def last(self) -> int:
        return self.rows[-1].rank if self.rows else 0


def ranking_page(ranked: Sequence[Ranked], asked: str | None, size: int) -> RankingPage:
    """The page ``asked`` (from 1; the first when not a number, the last when past it)
    of ``size`` ranks: a national office ranks every agency of the country."""
    pages = max(1, -(-len(ranked) // size))
    page = int(asked) if asked and asked.isdigit() and int(asked) > 0 else 1
    page = min(page, pages)
    return RankingPage(list(ranked[(page - 1) * size : page * size]), page, pages, len(ranked))


@dataclass(frozen=True)
class LevelFigures:
    level: int
    agencies: int
    exchanges: int
    fully_electronic: int
    share: float | None
    overdue: int


def by_level(rows: Iterable[Mapping[str, Any]], depth_of: Mapping[str, int]) -> list[LevelFigures]:
    """The share per level of the registry (0: the monitor's own agency)."""
    totals: dict[int, list[int]] = {}
    for r in rows:
        level = depth_of.get(str(r["group"]))
        if level is None:
            continue
        t = totals.setdefault(level, [0, 0, 0, 0])
        t[0] += 1
        t[1] += int(r.get("exchanges") or 0)
        t[2] += int(r.get("fully_electronic") or 0)
        t[3] += int(r.get("overdue") or 0)
    return [
        LevelFigures(
            level=level,
            agencies=t[0],
            exchanges=t[1],
            fully_electronic=t[2],
            share=(t[2] / t[1]) if t[1] else None,
            overdue=t[3],
        )
        for level, t in sorted(totals.items())
    ]


@dataclass(frozen=True)
class ReasonCount:
    reason: Reason
    exchanges: int
    share: float | None  # of the exchanges sent


def reasons(totals: Mapping[str, Any]) -> list[ReasonCount]:
    """Why exchanges were not fully electronic: each reason met, most frequent first
    (an exchange may have several)."""
    sent = int(totals.get("exchanges") or 0)
    counted = totals.get("reasons") or {}
    found = [
        ReasonCount(reason, n, (n / sent) if sent else None)
        for reason in Reason
        if (n := int(counted.get(reason.value) or 0))
    ]
    return sorted(found, key=lambda r: -r.exchanges)


def percent(value: float | None) -> str:
    """A share as Vietnamese write it: 66,7% (— when there is nothing to count)."""
    if value is None:
        return "—"
    return f"{value * 100:.1f}%".replace(".", ",")


def duration(seconds: float | None) -> str:
    """A latency in words: 45 giây, 12 phút, 3,5 giờ, 2,0 ngày."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.0f} giây"
    if seconds < 3600:
        return f"{seconds / 60:.0f} phút"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} giờ".replace(".", ",")
    return f"{seconds / 86400:.1f} ngày".replace(".", ",")


def series_values(rows: Sequence[Mapping[str, Any]], key: str) -> list[float | None]:
    return [r.get(key) for r in rows]
