"""The agencies below one, ranked by their share of fully electronic exchanges, a page
at a time, with the figures per level of the registry. Computed where the counters
are: a national office's dashboard gets one page and the level sums, not the figures
of every agency of the country."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from services.common.db import Database
from services.common.internal_api import EShareFigures, EShareLevel, EShareQuery, EShareRanking
from services.routing.ledger.queries import Sums, add_counters, add_latency
from services.routing.ledger.rules import vietnam_day
from services.routing.ledger.scope import scope_with_names


@dataclass(frozen=True)
class Standing:
    """What an agency is ranked by."""

    code: str
    level: int
    exchanges: int
    fully_electronic: int

    @property
    def share(self) -> float | None:
        return self.fully_electronic / self.exchanges if self.exchanges else None


def rank(standings: list[Standing], level: int | None) -> list[Standing]:
    """The agencies below (at ``level``, or at every level when None), best share
    first, then the most exchanges, then by code; those with nothing sent last (pure)."""
    chosen = [s for s in standings if s.level > 0 and (level is None or s.level == level)]
    return sorted(
        chosen,
        key=lambda s: (s.share is None, -(s.share or 0.0), -s.exchanges, s.code),
    )


def levels(figures: Mapping[str, EShareFigures], depth: Mapping[str, int]) -> list[EShareLevel]:
    """The figures summed per level (0: the agency asked for; pure)."""
    totals: dict[int, list[int]] = {}
    for code, f in figures.items():
        t = totals.setdefault(depth[code], [0, 0, 0, 0])
        t[0] += 1
        t[1] += f["exchanges"]
        t[2] += f["fully_electronic"]
        t[3] += f["overdue"]
    return [
        {
            "level": level,
            "agencies": agencies,
            "exchanges": exchanges,
            "fully_electronic": fully,
            "share": round(fully / exchanges, 4) if exchanges else None,
            "overdue": overdue,
        }
        for level, (agencies, exchanges, fully, overdue) in sorted(totals.items())
    ]


def ranking(
    db: Database,
    query: EShareQuery,
    *,
    level: int | None,
    page: int,
    size: int,
    now: datetime | None = None,
) -> EShareRanking:
    """Page ``page`` (from 1; the last when past it) of ``size`` ranks, and the levels."""
    now = now or datetime.now(UTC)
    today = vietnam_day(now)
    sums = Sums()
    with db.reading() as session:
        scope = scope_with_names(session, query.viewer, query.agency, include_children=True)
        add_counters(session, sums, scope.codes, query.start, query.end, today, "agency")
        figures = {code: sums.figures(code) for code in scope.codes}
        ranked = rank(
            [
                Standing(code, scope.depth[code], f["exchanges"], f["fully_electronic"])
                for code, f in figures.items()
            ],
            level,
        )
        pages = max(1, -(-len(ranked) // size))
        page = min(max(page, 1), pages)
        first = (page - 1) * size
        shown = ranked[first : first + size]
        # Latency (the registration time shown beside each) for the page's agencies only.
        add_latency(session, sums, [s.code for s in shown], query.start, query.end, "agency")
    return {
        "agency": query.agency,
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "as_of": now.isoformat(),
        "level": level,
        "levels": levels(figures, scope.depth),
        "total": len(ranked),
        "page": page,
        "pages": pages,
        "size": size,
        "rows": [
            {
                "group": s.code,
                "name": scope.names.get(s.code, s.code),
                "rank": first + i + 1,
                "level": s.level,
                **sums.figures(s.code),
            }
            for i, s in enumerate(shown)
        ],
    }
