"""Agency API keys: their format, and which agency a key belongs to on every request."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable

import sqlalchemy as sa

from services.common.db import Database
from services.common.errors import Unauthorized
from services.ingest.models import ApiKey

API_KEY_PREFIX = "lt_"


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    # Keys carry 256 random bits, so a plain SHA-256 is enough: no dictionary to attack.
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeys:
    """Agency codes behind API keys, remembered for ``ttl`` seconds after a successful
    look-up: every request is authenticated and the key table rarely changes, so most
    requests need no query. A key revoked in the database stops working within ``ttl``;
    a key that is not valid is looked up every time, never remembered."""

    MAX_REMEMBERED = 10_000

    def __init__(
        self, db: Database, ttl: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.db = db
        self.ttl = ttl
        self.clock = clock
        self._known: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def agency_of(self, key: str) -> str:
        digest = hash_api_key(key)
        now = self.clock()
        with self._lock:
            known = self._known.get(digest)
        if known is not None and known[1] > now:
            return known[0]
        with self.db.reading() as session:
            agency = session.scalar(
                sa.select(ApiKey.agency_code).where(
                    ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None)
                )
            )
        if agency is None:
            with self._lock:
                self._known.pop(digest, None)
            raise Unauthorized("the API key is not valid")
        with self._lock:
            if len(self._known) >= self.MAX_REMEMBERED:
                self._known.clear()
            self._known[digest] = (agency, now + self.ttl)
        return str(agency)
