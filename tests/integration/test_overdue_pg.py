"""The overdue list on PostgreSQL (each agency's first page from the open-work index,
then the first of those) against its definition (``overdue_cases``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.common.db import Database
from services.common.wiring import migrate
from services.routing import statuses
from tests.unit.routing.ledger_world import Clock, World
from tests.unit.routing.overdue_cases import build, check_every_case

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_world(pg_urls: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    migrate("routing", pg_urls["routing"])
    db = Database(pg_urls["routing"])
    clock = Clock()
    monkeypatch.setattr(statuses, "now", clock)
    world = World(db, clock)
    world.register_agencies()
    yield world
    db.dispose()


def test_the_overdue_list_is_its_definition_on_postgresql(pg_world: World) -> None:
    build(pg_world)
    assert check_every_case(pg_world) > 100
