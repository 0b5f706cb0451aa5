"""The kernel's batch helpers: rows a batch locks, loads or checks up front are found
again by the handlers without another query, and forgotten when the transaction ends."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from services.common import db as db_module
from services.common.db import (
    Database,
    add_row,
    get_locked,
    get_row,
    load_rows,
    lock_rows,
)


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    key: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    value: Mapped[int] = mapped_column(default=0)


@pytest.fixture()
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'batches.db'}")
    Base.metadata.create_all(database.engine)
    with database.unit_of_work() as session:
        session.add_all([Item(key=k, value=i) for i, k in enumerate("abcdef")])
    yield database
    database.dispose()


class Statements:
    """Counts the SELECTs a session sends while the block runs."""

    def __init__(self, session: Session) -> None:
        self.selects = 0
        self.bind = session.get_bind()

    def __enter__(self) -> Statements:
        sa.event.listen(self.bind, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *_exc: object) -> None:
        sa.event.remove(self.bind, "before_cursor_execute", self._count)

    def _count(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            self.selects += 1


def _value(item: Item | None) -> int:
    assert item is not None
    return item.value


def test_locked_rows_are_found_without_a_query_even_when_unreferenced(db: Database) -> None:
    with db.unit_of_work() as session:
        lock_rows(session, Item, ["a", "c", "e"])
        with Statements(session) as counter:
            # The identity map keeps unmodified rows only weakly; held rows must survive.
            gc.collect()
            found = [get_locked(session, Item, k) for k in ("a", "c", "e")]
            assert [i.value if i else None for i in found] == [0, 2, 4]
            assert counter.selects == 0
            assert _value(get_locked(session, Item, "b")) == 1  # not locked up front: a read
            assert counter.selects == 1


def test_loaded_rows_and_absent_ones_need_no_second_query(db: Database) -> None:
    with db.unit_of_work() as session:
        load_rows(session, Item, ["b", "zz"])
        with Statements(session) as counter:
            assert _value(get_row(session, Item, "b")) == 1
            assert get_row(session, Item, "zz") is None
            assert counter.selects == 0


def test_presence_is_checked_once_and_follows_what_the_batch_adds(db: Database) -> None:
    with db.unit_of_work() as session:
        load_rows(session, Item, ["a", "new"])
        with Statements(session) as counter:
            assert get_row(session, Item, "a") is not None
            assert get_row(session, Item, "new") is None
            add_row(session, Item(key="new"))
            assert get_row(session, Item, "new") is not None
            assert counter.selects == 0
            assert get_row(session, Item, "f") is not None  # not checked up front: a read
            assert counter.selects == 1


def test_what_a_transaction_learned_ends_with_it(db: Database) -> None:
    session_seen: dict[str, Any] = {}
    with db.unit_of_work() as session:
        load_rows(session, Item, ["gone"])
        session_seen = session.info
    assert all(not k.startswith("lienthong.") for k in session_seen)
    with db.unit_of_work() as session:
        session.add(Item(key="gone"))
    with db.unit_of_work() as session:
        assert get_row(session, Item, "gone") is not None


def test_rolled_back_knowledge_is_dropped(db: Database) -> None:
    with pytest.raises(RuntimeError), db.unit_of_work() as session:
        add_row(session, Item(key="x"))
        raise RuntimeError("the batch fails")
    assert "lienthong.loaded_rows" not in session.info
    with db.unit_of_work() as session:
        assert get_row(session, Item, "x") is None


def test_many_keys_are_read_in_bounded_queries(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A statement may carry only so many parameters: long key lists go in chunks, the
    locks still taken in key order."""
    monkeypatch.setattr(db_module, "KEYS_PER_QUERY", 2)
    locked_order: list[list[Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, params: Any, *_rest: Any) -> None:
        if "FOR UPDATE" in statement.upper() or statement.lstrip().upper().startswith("SELECT"):
            locked_order.append(list(params))

    with db.unit_of_work() as session:
        bind = session.get_bind()
        sa.event.listen(bind, "before_cursor_execute", seen)
        try:
            lock_rows(session, Item, ["e", "a", "c", "b", "d"])
            load_rows(session, Item, ["f", "zz", "a"])
        finally:
            sa.event.remove(bind, "before_cursor_execute", seen)
        with Statements(session) as counter:
            assert [_value(get_locked(session, Item, k)) for k in "abcde"] == [0, 1, 2, 3, 4]
            assert _value(get_row(session, Item, "f")) == 5
            assert get_row(session, Item, "zz") is None
            assert counter.selects == 0
    assert len(locked_order) == 3 + 2  # 5 keys to lock, then 3 to load, 2 to a query
    flat = [k for params in locked_order[:3] for k in params]
    assert flat == ["a", "b", "c", "d", "e"]
