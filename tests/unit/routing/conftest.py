"""Shared fixtures of routing's unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.db import Database
from services.common.wiring import migrate


@pytest.fixture
def routing_sqlite(tmp_path: Path) -> Iterator[Database]:
    """routing's schema, migrated, in a fresh SQLite file."""
    url = f"sqlite:///{tmp_path / 'routing.sqlite3'}"
    migrate("routing", url)
    database = Database(url)
    yield database
    database.dispose()
