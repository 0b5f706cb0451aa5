"""API keys are remembered for a few seconds after a successful look-up, never when
they fail, and a revoked key stops working once that time has passed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from services.common.errors import Unauthorized
from services.ingest.apikeys import ApiKeys
from services.ingest.models import ApiKey
from tests.unit.ingest.test_api import SENDER, Ingest, ingest  # noqa: F401 (the fixture)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _revoke_all(ingest: Ingest) -> None:  # noqa: F811
    with ingest.ctx.db.unit_of_work() as session:
        session.execute(sa.update(ApiKey).values(revoked_at=datetime.now(UTC)))


def test_a_key_is_looked_up_once_within_its_time(ingest: Ingest) -> None:  # noqa: F811
    clock = Clock()
    keys = ApiKeys(ingest.ctx.db, ttl=10.0, clock=clock)
    assert keys.agency_of(ingest.keys[SENDER]) == SENDER
    _revoke_all(ingest)
    clock.now += 9.0
    assert keys.agency_of(ingest.keys[SENDER]) == SENDER  # remembered: no query
    clock.now += 1.5
    with pytest.raises(Unauthorized):
        keys.agency_of(ingest.keys[SENDER])  # looked up again: revoked


def test_without_a_cache_revocation_is_immediate(ingest: Ingest) -> None:  # noqa: F811
    keys = ApiKeys(ingest.ctx.db, ttl=0.0, clock=Clock())
    assert keys.agency_of(ingest.keys[SENDER]) == SENDER
    _revoke_all(ingest)
    with pytest.raises(Unauthorized):
        keys.agency_of(ingest.keys[SENDER])


def test_a_wrong_key_is_never_remembered(ingest: Ingest) -> None:  # noqa: F811
    keys = ApiKeys(ingest.ctx.db, ttl=10.0, clock=Clock())
    for _ in range(2):
        with pytest.raises(Unauthorized):
            keys.agency_of("lt_not-a-key")
    assert keys._known == {}


def test_the_app_authenticates_through_the_cache(ingest: Ingest) -> None:  # noqa: F811
    response = ingest.client.get("/v1/inbox", headers=ingest.auth(SENDER))
    assert response.status_code == 200
    wrong = ingest.client.get("/v1/inbox", headers={"Authorization": "Bearer lt_wrong"})
    assert wrong.status_code == 401
