"""Registered agency codes are remembered once found; a code not found is looked up
again, so an agency registered a moment later is accepted at once."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from services.ingest.agencies import add_agency
from services.ingest.registry import KnownAgencies
from tests.unit.ingest.test_api import (  # noqa: F401 (the fixture)
    RECIPIENT,
    SENDER,
    SMALL_PDF,
    THIRD,
    Ingest,
    ingest,
    metadata,
    post_document,
)

NEW = "002.00.00.H45"


class Queries:
    """Counts the SELECTs on the agencies table while the block runs."""

    def __init__(self, ingest: Ingest) -> None:  # noqa: F811
        self.engines = ingest.ctx.db.engines  # reads have an engine of their own on SQLite
        self.count = 0

    def __enter__(self) -> Queries:
        for engine in self.engines:
            sa.event.listen(engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_exc: object) -> None:
        for engine in self.engines:
            sa.event.remove(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "agencies" in statement:
            self.count += 1


def test_found_codes_need_no_second_query(ingest: Ingest) -> None:  # noqa: F811
    agencies = KnownAgencies(ingest.ctx.db)
    with Queries(ingest) as queries:
        assert agencies.known([RECIPIENT, THIRD, NEW]) == {RECIPIENT, THIRD}
        assert agencies.known([RECIPIENT, THIRD]) == {RECIPIENT, THIRD}
        assert agencies.known([SENDER, RECIPIENT]) == {SENDER, RECIPIENT}
    assert queries.count == 2  # the first look-up and SENDER's; none for known codes


def test_an_unknown_code_is_looked_up_again_until_registered(
    ingest: Ingest,  # noqa: F811
) -> None:
    agencies = KnownAgencies(ingest.ctx.db)
    assert agencies.known([NEW]) == set()
    add_agency(ingest.ctx.db, NEW, "Sở mới")
    assert agencies.known([NEW, RECIPIENT]) == {NEW, RECIPIENT}


def test_an_upload_names_only_registered_recipients(ingest: Ingest) -> None:  # noqa: F811
    """Through the API: the cache behind uploads refuses an unknown recipient and accepts
    it once registered."""
    refused = post_document(ingest, SMALL_PDF.read_bytes(), metadata(NEW))
    assert refused.status_code == 422
    add_agency(ingest.ctx.db, NEW, "Sở mới")
    accepted = post_document(ingest, SMALL_PDF.read_bytes(), metadata(NEW))
    assert accepted.status_code == 201
