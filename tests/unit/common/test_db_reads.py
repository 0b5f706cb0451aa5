"""On SQLite, a read does not take the one write lock: an inbox poll neither waits for
a bus consumer's transaction nor holds one up (WAL gives the reader a snapshot)."""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa

from services.common.db import Database


def test_a_read_goes_on_while_a_writer_holds_the_lock(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'reads.sqlite3'}")
    with db.unit_of_work() as session:
        session.execute(sa.text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)"))
        session.execute(sa.text("INSERT INTO items (name) VALUES ('first')"))
    read: list[list[str]] = []
    writer_holds_the_lock = threading.Event()
    reader_done = threading.Event()

    def writer() -> None:
        with db.unit_of_work() as session:  # BEGIN IMMEDIATE: the write lock, held
            session.execute(sa.text("INSERT INTO items (name) VALUES ('second')"))
            writer_holds_the_lock.set()
            reader_done.wait(timeout=10)

    thread = threading.Thread(target=writer)
    thread.start()
    assert writer_holds_the_lock.wait(timeout=10)
    with db.reading() as session:
        read.append(list(session.execute(sa.text("SELECT name FROM items")).scalars()))
    reader_done.set()
    thread.join(timeout=10)

    # The reader answered while the writer still held the lock (it waited for the
    # reader), from the snapshot before the uncommitted insert.
    assert read == [["first"]]
    with db.reading() as session:
        assert session.execute(sa.text("SELECT count(*) FROM items")).scalar() == 2
    db.dispose()
