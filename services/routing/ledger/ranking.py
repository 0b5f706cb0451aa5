"""The agencies below one, ranked by their share of fully electronic exchanges, a page
at a time, with the figures per level of the registry. Computed where the counters
are: a national office's dashboard gets one page and the level sums, not the figures
of every agency of the country."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.common.db import Database
from services.common.internal_api import EShareLevel, EShareQuery, EShareRanking
from services.routing.ledger.period_sums import counter_sums_by_agency
from services.routing.ledger.queries import Sums, add_counters, add_latency
from services.routing.ledger.rules import vietnam_day
from services.routing.ledger.scope import scope_with_names

_SENT = ("exchanges", "fully_electronic")
_NOTHING = dict.fromkeys(_SENT, 0)


@dataclass(frozen=True)
class Standing:
    """What an agency is ranked by."""

    code: str
    level: int
    exchanges: int
    fully_electronic: int
    overdue: int = 0

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


def levels(standings: list[Standing]) -> list[EShareLevel]:
    """The figures summed per level (0: the agency asked for; pure)."""
    totals: dict[int, list[int]] = {}
    for s in standings:
        t = totals.setdefault(s.level, [0, 0, 0, 0])
        t[0] += 1
        t[1] += s.exchanges
        t[2] += s.fully_electronic
        t[3] += s.overdue
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
    with db.reading() as session:
        scope = scope_with_names(session, query.viewer, query.agency, include_children=True)
        # What the ranking and the levels need, for every agency: three counters. The
        # figures in full (and the latency) only for the page's agencies.
        # Sent-side counters have no today to split at: every whole month of the period
        # from the monthly counters, the current one too.
        sent = counter_sums_by_agency(session, scope.codes, query.start, query.end, _SENT)
        yesterday = min(query.end, today - timedelta(days=1))
        overdue = counter_sums_by_agency(
            session, scope.codes, query.start, yesterday, ("open",), today=today
        )
        standings = [
            Standing(
                code,
                scope.depth[code],
                exchanges=sent.get(code, _NOTHING)["exchanges"],
                fully_electronic=sent.get(code, _NOTHING)["fully_electronic"],
                overdue=overdue.get(code, {"open": 0})["open"],
            )
            for code in scope.codes
        ]
        ranked = rank(standings, level)
        pages = max(1, -(-len(ranked) // size))
        page = min(max(page, 1), pages)
        first = (page - 1) * size
        shown = [s.code for s in ranked[first : first + size]]
        sums = Sums()
        add_counters(session, sums, shown, query.start, query.end, today, "agency")
        add_latency(session, sums, shown, query.start, query.end, "agency")
    return {
        "agency": query.agency,
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "as_of": now.isoformat(),
        "level": level,
        "levels": levels(standings),
        "total": len(ranked),
        "page": page,
        "pages": pages,
        "size": size,
        "rows": [
            {
                "group": code,
                "name": scope.names.get(code, code),
                "rank": first + i + 1,
                "level": scope.depth[code],
                **sums.figures(code),
            }
            for i, code in enumerate(shown)
        ],
    }
