"""The ranking of the agencies below one, computed by routing from the counters: best
share first, the agencies with nothing sent last, a page at a time, and the figures
per level of the registry; never an agency outside the viewer's part of it."""

from __future__ import annotations

from typing import Any

import pytest

from services.common.agency_tree import depths
from services.common.errors import Forbidden
from services.common.internal_api import EShareQuery
from services.routing.ledger import queries, ranking
from services.routing.ledger.ranking import Standing, rank
from tests.unit.common.test_agency_tree import PARENTS
from tests.unit.routing.ledger_world import (
    COMMUNE_A,
    DEPT_A,
    PROV_A,
    PROV_B,
    World,
    build_scenarios,
    world,  # noqa: F401  (the fixture)
)
from tests.unit.routing.test_ledger_scenarios import AS_OF, Q2


def test_best_share_first_and_nothing_sent_last() -> None:
    depth = depths(PARENTS, "P")
    sent = {"P": (10, 5), "D1": (4, 1), "D2": (2, 2), "C1": (0, 0), "O1": (3, 3)}
    standings = [Standing(code, depth[code], *sent[code]) for code in depth]
    assert [s.code for s in rank(standings, None)] == ["O1", "D2", "D1", "C1"]
    assert [s.code for s in rank(standings, 1)] == ["D2", "D1", "C1"]
    assert [s.code for s in rank(standings, 2)] == ["O1"]
    # A tie on the share: the one that sent more first, then by code.
    tied = [Standing("B", 1, 4, 2), Standing("A", 1, 4, 2), Standing("C", 1, 8, 4)]
    assert [s.code for s in rank(tied, None)] == ["C", "A", "B"]


@pytest.fixture
def built(world: World) -> World:  # noqa: F811
    build_scenarios(world)
    return world


def ranked(w: World, agency: str, *, viewer: str | None = None, **asked: Any) -> Any:
    query = EShareQuery(viewer or agency, agency, *Q2, include_children=True)
    options = {"level": None, "page": 1, "size": 50, **asked}
    return ranking.ranking(w.db, query, now=AS_OF, **options)


def test_the_province_ranks_the_agencies_below_it(built: World) -> None:
    answer = ranked(built, PROV_A)
    # The department sent 3 (2 fully electronic), the commune 2 (none).
    assert [(r["rank"], r["group"], r["level"]) for r in answer["rows"]] == [
        (1, DEPT_A, 1),
        (2, COMMUNE_A, 1),
    ]
    first = answer["rows"][0]
    assert (first["name"], first["exchanges"], first["fully_electronic"]) == (
        "Sở Nội vụ tỉnh Khánh Hòa",
        3,
        2,
    )
    assert first["share"] == round(2 / 3, 4)
    # The figures of a ranked agency are its figures over the period, latency included.
    alone = queries.e_share(built.db, EShareQuery(PROV_A, DEPT_A, *Q2), now=AS_OF)["totals"]
    assert {k: v for k, v in first.items() if k not in ("group", "name", "rank", "level")} == alone
    assert answer["levels"] == [
        {"level": 0, "agencies": 1, "exchanges": 3, "fully_electronic": 0, "share": 0.0,
         "overdue": 0},
        {"level": 1, "agencies": 2, "exchanges": 5, "fully_electronic": 2, "share": 0.4,
         "overdue": 1},
    ]  # fmt: skip
    assert (answer["total"], answer["page"], answer["pages"]) == (2, 1, 1)


def test_a_page_at_a_time(built: World) -> None:
    second = ranked(built, PROV_A, size=1, page=2)
    assert [(r["rank"], r["group"]) for r in second["rows"]] == [(2, COMMUNE_A)]
    assert (second["total"], second["page"], second["pages"]) == (2, 2, 2)
    # Past the last page: the last.
    assert ranked(built, PROV_A, size=1, page=9)["page"] == 2
    # Nobody at a level: an empty page, the levels all the same.
    empty = ranked(built, PROV_A, level=2)
    assert (empty["rows"], empty["total"], empty["pages"]) == ([], 0, 1)
    assert len(empty["levels"]) == 2


def test_never_a_sibling_or_a_parent(built: World) -> None:
    with pytest.raises(Forbidden):
        ranked(built, PROV_B, viewer=PROV_A)
    with pytest.raises(Forbidden):
        ranked(built, PROV_A, viewer=DEPT_A)
    assert ranked(built, DEPT_A, viewer=PROV_A)["total"] == 0  # nothing below it
