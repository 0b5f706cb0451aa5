"""Shared helpers for the unit tests: no network, no servers, everything under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    """The smallest environment a service needs: a private data directory."""
    data_dir = tmp_path / "data"
    return {"LIENTHONG_DATA_DIR": str(data_dir)}
