"""The overdue list on SQLite against its definition (``overdue_cases``)."""

from __future__ import annotations

from services.routing.ledger import listings
from tests.unit.routing.ledger_world import (
    World,
    vn,
    world,  # noqa: F401  (the fixture)
)
from tests.unit.routing.overdue_cases import build, check_every_case


def test_the_overdue_list_is_its_definition(world: World) -> None:  # noqa: F811
    build(world)
    assert check_every_case(world) > 100


def test_the_due_window_is_the_vietnam_days_of_the_period() -> None:
    from datetime import date

    first, until = listings.due_window(date(2026, 4, 1), date(2026, 4, 30), vn("2026-07-01 08:00"))
    assert (first, until) == (vn("2026-04-01 00:00"), vn("2026-05-01 00:00"))
    # Not yet due: the window stops at now.
    now = vn("2026-04-10 15:00")
    assert listings.due_window(date(2026, 4, 1), date(2026, 4, 30), now) == (first, now)
