"""The e-share ledger on PostgreSQL: the hand-computed scenarios give the same exact
figures as on SQLite (the counters' upserts are PostgreSQL's ON CONFLICT here), a
rebuild gives the same ledger, and a sibling province stays out of sight."""

from __future__ import annotations

import pytest

from services.common.errors import Forbidden
from services.routing.ledger.rebuild import rebuild
from tests.unit.routing.ledger_world import PROV_A, PROV_B, World, build_scenarios
from tests.unit.routing.test_ledger_ranking import (
    test_the_province_ranks_the_agencies_below_it as the_province_ranks_the_agencies_below_it,
)
from tests.unit.routing.test_ledger_scenarios import Q1, Q2, _ledger, ask, reasons
from tests.unit.routing.test_ledger_scenarios import (
    test_the_listing_total_is_the_number_of_exchanges_listed as listing_totals,
)
from tests.unit.routing.test_ledger_scenarios import (
    test_the_pages_of_the_listing_follow_each_other as listing_pages,
)
from tests.unit.routing.test_ledger_scenarios import (
    test_upgrading_fills_the_reason_counters_from_the_ledger as upgrading_fills_the_reason_counters,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_world(pg_world: World) -> World:
    build_scenarios(pg_world)
    return pg_world


def test_the_scenarios_on_postgresql(pg_world: World) -> None:
    totals = ask(pg_world, PROV_A)["totals"]
    assert (totals["exchanges"], totals["fully_electronic"], totals["share"]) == (8, 2, 0.25)
    assert (totals["signed_share"], totals["on_time_share"], totals["overdue"]) == (0.75, 0.5, 1)
    assert totals["latency_arrived_to_registered"]["p95"] == 2 * 86400
    assert reasons(pg_world, PROV_A, fully_electronic=False) == {
        "E2": ["not_signed"],
        "E3": ["scanned"],
        "E4": ["paper"],
        "E5": ["not_registered"],
        "E6": ["taken_back"],
        "E10": ["not_verified"],
    }
    with pytest.raises(Forbidden):
        ask(pg_world, PROV_B, viewer=PROV_A)
    before = _ledger(pg_world)
    figures = [ask(pg_world, a, p) for a in (PROV_A, PROV_B) for p in (Q1, Q2)]
    rebuild(pg_world.db)
    assert _ledger(pg_world) == before
    assert [ask(pg_world, a, p) for a in (PROV_A, PROV_B) for p in (Q1, Q2)] == figures


def test_the_listing_on_postgresql(pg_world: World) -> None:
    """Each agency's first page from the (sender, sent time, id) index, then the first
    of those: the same pages and totals as on SQLite."""
    listing_pages(pg_world)
    listing_totals(pg_world)


def test_upgrading_fills_the_reason_counters_on_postgresql(pg_world: World) -> None:
    upgrading_fills_the_reason_counters(pg_world)


def test_the_ranking_on_postgresql(pg_world: World) -> None:
    the_province_ranks_the_agencies_below_it(pg_world)
