"""Which agency codes are registered, for every upload's recipients."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import sqlalchemy as sa

from services.common.db import Database
from services.ingest.models import Agency


class KnownAgencies:
    """Agency codes found in the registry. Agencies are never removed, so a code once
    found is remembered for good and most uploads need no query; a code not found is
    looked up every time, since it may be registered a moment later."""

    MAX_REMEMBERED = 100_000

    def __init__(self, db: Database) -> None:
        self.db = db
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def known(self, codes: Iterable[str]) -> set[str]:
        """The codes among ``codes`` that are registered."""
        wanted = set(codes)
        with self._lock:
            missing = wanted - self._known
        if not missing:
            return wanted
        with self.db.reading() as session:
            found = set(session.scalars(sa.select(Agency.code).where(Agency.code.in_(missing))))
        with self._lock:
            if len(self._known) + len(found) > self.MAX_REMEMBERED:
                self._known.clear()
            self._known |= found
        return (wanted - missing) | found
