"""The monitors' dashboard, pure: the default period, the levels of the registry below
a monitor, the ranking of the agencies and the figures of a level. No I/O: the figures
come from ingest's e-share API (``GET /v1/metrics/e-share``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from services.common.agency_tree import children_of, depths
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


#: Up to this many agencies below a monitor, the agency picker lists them all.
PICKER_ALL = 300


def agency_choices(
    parents: Mapping[str, str | None], own: str, chosen: str, *, most: int = PICKER_ALL
) -> list[tuple[str, int]]:
    """The agency picker's entries, each with its depth below ``own``, in the tree's
    order (each agency followed by those below it, by code). Beyond ``most`` agencies
    (a national office's thousands), the way down from ``own`` to ``chosen`` and the
    agencies right below ``chosen``: one chooses a level at a time, as in the ranking."""
    depth = depths(parents, own)
    every_child = children_of(parents)

    def below(code: str) -> list[str]:
        # One level down the tree from ``own`` (a link back up, as in a cycle, is not).
        return sorted(c for c in every_child.get(code, ()) if depth.get(c) == depth[code] + 1)

    if len(depth) <= most:
        out: list[tuple[str, int]] = []
        stack = [own]
        while stack:
            code = stack.pop()
            out.append((code, depth[code]))
            stack.extend(reversed(below(code)))
        return out
    way = [chosen]
    while way[-1] != own and parents.get(way[-1]) is not None:
        way.append(str(parents[way[-1]]))
    return [(code, depth[code]) for code in [*reversed(way), *below(chosen)]]


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


def ranking_page(answer: Mapping[str, Any]) -> RankingPage:
    """The page of the ranking ingest's ranking API answered (best share first; the
    agencies with nothing sent last)."""
    return RankingPage(
        [
            Ranked(
                rank=int(r["rank"]),
                code=str(r["group"]),
                name=str(r.get("name") or r["group"]),
                level=int(r["level"]),
                exchanges=int(r.get("exchanges") or 0),
                fully_electronic=int(r.get("fully_electronic") or 0),
                share=r.get("share"),
                signed_share=r.get("signed_share"),
                on_time_share=r.get("on_time_share"),
                overdue=int(r.get("overdue") or 0),
                registration_p50=_p50(r),
            )
            for r in answer.get("rows") or []
        ],
        page=int(answer.get("page") or 1),
        pages=int(answer.get("pages") or 1),
        total=int(answer.get("total") or 0),
    )


def page_number(asked: str | None) -> int:
    """A page asked for in the address (from 1; the first when not a number)."""
    return int(asked) if asked and asked.isdigit() and 0 < int(asked) < 10**6 else 1


@dataclass(frozen=True)
class LevelFigures:
    level: int
    agencies: int
    exchanges: int
    fully_electronic: int
    share: float | None
    overdue: int


def level_figures(answer: Mapping[str, Any]) -> list[LevelFigures]:
    """The share per level of the registry (0: the monitor's chosen agency)."""
    return [
        LevelFigures(
            level=int(f["level"]),
            agencies=int(f["agencies"]),
            exchanges=int(f["exchanges"]),
            fully_electronic=int(f["fully_electronic"]),
            share=f.get("share"),
            overdue=int(f["overdue"]),
        )
        for f in answer.get("levels") or []
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
