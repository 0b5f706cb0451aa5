"""The ledger's consumer batches on PostgreSQL, where the feed reads a batch's rows
through the driver (exchanges and deliveries named together) and moves the counters
in one statement: the same figures as a rebuild gives. And the ledger's pages keep
room for their rows' updates."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.unit.routing.ledger_world import World
from tests.unit.routing.test_ledger_scenarios import (
    test_a_consumer_batch_moves_the_counters_once_and_right as batch_of_arrivals,
)
from tests.unit.routing.test_ledger_scenarios import (
    test_an_exchange_changed_by_several_messages_of_a_batch_is_settled_once as verdict_and_arrivals,
)

pytestmark = pytest.mark.integration


def test_a_batch_of_arrivals(pg_world: World) -> None:
    batch_of_arrivals(pg_world)


def test_a_verdict_and_arrivals_in_one_batch(pg_world: World) -> None:
    verdict_and_arrivals(pg_world)


def test_the_ledger_rows_have_room_for_their_updates(pg_world: World) -> None:
    with pg_world.db.reading() as session:
        options: dict[str, list[str]] = dict(
            session.execute(
                sa.text(
                    "SELECT relname, reloptions FROM pg_class "
                    "WHERE relname IN ('ledger_deliveries', 'ledger_exchanges')"
                )
            ).all()
        )
    assert options == {
        "ledger_deliveries": ["fillfactor=70"],
        "ledger_exchanges": ["fillfactor=70"],
    }
