"""Fixtures shared by the integration tests (the services' own ones are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.common.db import Database
from services.common.wiring import migrate
from services.routing import statuses
from tests.unit.routing.ledger_world import Clock, World


@pytest.fixture
def pg_world(pg_urls: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """Routing on PostgreSQL with the test registry's agencies, on a clock of its own."""
    migrate("routing", pg_urls["routing"])
    db = Database(pg_urls["routing"])
    clock = Clock()
    monkeypatch.setattr(statuses, "now", clock)
    world = World(db, clock)
    world.register_agencies()
    yield world
    db.dispose()
