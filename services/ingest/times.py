"""Ingest's clock and how it writes moments."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    """A moment read through ``UtcDateTime`` (always aware) as ISO 8601, or None."""
    return None if moment is None else moment.isoformat()
