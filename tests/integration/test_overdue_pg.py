"""The overdue list on PostgreSQL (each agency's first page from the open-work index,
then the first of those) against its definition (``overdue_cases``)."""

from __future__ import annotations

import pytest

from tests.unit.routing.ledger_world import World
from tests.unit.routing.overdue_cases import build, check_every_case

pytestmark = pytest.mark.integration


def test_the_overdue_list_is_its_definition_on_postgresql(pg_world: World) -> None:
    build(pg_world)
    assert check_every_case(pg_world) > 100
