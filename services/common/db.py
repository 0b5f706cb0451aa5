"""Engine and unit of work for a service's own database, plus Alembic helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A moment stored with its zone and always read back aware, in UTC.

    PostgreSQL keeps the zone (``timestamptz``); SQLite hands back naive values, which
    are UTC because every moment written through this type is converted to UTC first.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        # A naive moment is taken as UTC, as SQLite hands it back.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


R = TypeVar("R")  # a mapped class: a row of it
K = TypeVar("K")


def make_engine(url: str, *, read_only: bool = False) -> Engine:
    """The engine of a service's database. On SQLite, ``read_only`` gives one whose
    transactions begin deferred: a reader then sees a snapshot of the WAL and never
    waits for, or holds up, the one writer."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_pre_ping=True
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets the HTTP threads read while a worker writes.
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # A writer takes the write lock up front: a deferred transaction that reads
            # and then writes fails at once (SQLITE_BUSY) when another writer got there
            # first. A reader must not take it, or every inbox poll queues behind the
            # bus consumers.
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


class Database:
    """One service's database: sessions as units of work and after-commit hooks."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Reads on SQLite go through an engine of their own (see make_engine); on
        # PostgreSQL a transaction takes no lock until it writes.
        in_memory = url in ("sqlite://", "sqlite:///") or ":memory:" in url  # one connection's
        separate = self.is_sqlite and not in_memory
        self._read_engine = make_engine(url, read_only=True) if separate else self.engine
        self._read_sessions = sessionmaker(self._read_engine, expire_on_commit=False)
        self._after_commit: list[Callable[[Session], None]] = []
        event.listen(self._sessions, "after_commit", self._run_after_commit)

    @property
    def engines(self) -> tuple[Engine, ...]:
        """Every engine of this database (two on SQLite: the writers' and the readers')."""
        return (
            (self.engine,) if self._read_engine is self.engine else (self.engine, self._read_engine)
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def on_commit(self, hook: Callable[[Session], None]) -> None:
        self._after_commit.append(hook)

    def _run_after_commit(self, session: Session) -> None:
        for hook in self._after_commit:
            hook(session)

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """Commit when the block ends normally, roll back on any exception."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        session = self._read_sessions()
        try:
            yield session
        finally:
            session.close()  # ends the transaction; loaded objects stay readable, detached

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        self.engine.dispose()
        if self._read_engine is not self.engine:
            self._read_engine.dispose()


def insert_if_absent(session: Session, model: type[object], **values: object) -> None:
    """INSERT ... ON CONFLICT DO NOTHING (PostgreSQL and SQLite): a row two consumers or
    processes may create at once, without a duplicate-key failure."""
    insert_all_if_absent(session, model, [values])


def insert_all_if_absent(
    session: Session, model: type[object], rows: Sequence[Mapping[str, object]]
) -> None:
    """:func:`insert_if_absent` for many rows, in one statement, in primary-key order:
    an insert waits for another transaction's uncommitted insert of the same key, so
    two transactions inserting overlapping rows in different orders would deadlock."""
    if rows:
        mapper = sa.inspect(model)
        key = mapper.primary_key[0].key
        ordered = sorted(rows, key=lambda row: str(row[key]))
        table = mapper.local_table
        assert isinstance(table, sa.Table)
        session.execute(_insert_ignoring(session.get_bind().dialect.name, table), ordered)


_INSERTS_IGNORING: dict[tuple[str, sa.Table], sa.Insert] = {}


def _insert_ignoring(dialect: str, table: sa.Table) -> sa.Insert:
    # Built once per table: a plain statement with bound parameters is the cheapest
    # thing to run on every bus message.
    key = (dialect, table)
    if key not in _INSERTS_IGNORING:
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        _INSERTS_IGNORING[key] = insert(table).on_conflict_do_nothing()
    return _INSERTS_IGNORING[key]


def driver_connection(session: Session) -> Any | None:
    """The transaction's psycopg connection on PostgreSQL (for COPY, pipelines and
    statements on a hot path that skip the statement layer), else None."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return session.connection().connection.driver_connection


# --- state that lasts one transaction ----------------------------------------------

_TRANSACTION_KEYS: set[str] = set()


def transaction_local(key: str) -> str:
    """A ``session.info`` key whose value lasts one transaction: it is dropped at
    commit and at rollback (a row lock, a row looked up, ends with the transaction)."""
    _TRANSACTION_KEYS.add(key)
    return key


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _end_of_transaction(session: Session) -> None:
    for key in _TRANSACTION_KEYS:
        session.info.pop(key, None)


# --- rows written at commit ------------------------------------------------------

_ROWS_AT_COMMIT = transaction_local("lienthong.rows_at_commit")
_BEFORE_ROWS_AT_COMMIT: list[Callable[[Session], None]] = []


def insert_at_commit(session: Session, table: sa.Table, row: Mapping[str, object]) -> None:
    """Queue ``row`` for ``table``. It is written just before the commit, after a flush
    (so the rows it references exist), with the transaction's other rows for that
    table in one executemany: a transaction that writes many makes one round trip, and
    nothing is fetched back. Rows keep the order they were queued in."""
    pending: dict[sa.Table, list[Mapping[str, object]]] = session.info.setdefault(
        _ROWS_AT_COMMIT, {}
    )
    pending.setdefault(table, []).append(row)


def before_rows_at_commit(hook: Callable[[Session], None]) -> Callable[[Session], None]:
    """Run ``hook`` at commit just before the queued rows are written (it may queue more)."""
    _BEFORE_ROWS_AT_COMMIT.append(hook)
    return hook


@event.listens_for(Session, "before_commit")
def _write_rows_at_commit(session: Session) -> None:
    for hook in _BEFORE_ROWS_AT_COMMIT:
        hook(session)
    pending = session.info.pop(_ROWS_AT_COMMIT, None)
    if pending:
        session.flush()
        for table, rows in pending.items():
            session.execute(table.insert(), rows)


# --- row locks and rows read once per transaction --------------------------------

_LOCKED_ROWS = transaction_local("lienthong.locked_rows")
# Keys per IN list: PostgreSQL's protocol allows 65,535 parameters in a statement, and
# a batch of folded messages may name more rows than that.
KEYS_PER_QUERY = 10_000


def _in_chunks(keys: list[K]) -> Iterator[list[K]]:
    for start in range(0, len(keys), KEYS_PER_QUERY):
        yield keys[start : start + KEYS_PER_QUERY]


def lock_rows(session: Session, model: type[object], keys: Iterable[str]) -> None:
    """Lock the rows of ``model`` with these primary keys (SELECT ... FOR UPDATE) in one
    query (per ``KEYS_PER_QUERY`` keys), in key order, so that transactions locking
    overlapping sets cannot deadlock; :func:`get_locked` then finds them without a query."""
    wanted = sorted(set(keys))
    if not wanted:
        return
    key_column = sa.inspect(model).primary_key[0]
    rows = [
        row
        for chunk in _in_chunks(wanted)  # in key order still: chunks of a sorted list
        for row in session.scalars(
            sa.select(model)
            .where(key_column.in_(chunk))
            .order_by(key_column)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
    ]
    # Held here, not only in the identity map: that map keeps unmodified rows weakly,
    # and a row collected before its handler runs would cost a second locked read.
    held: dict[tuple[type[object], str], object] = session.info.setdefault(_LOCKED_ROWS, {})
    held.update(((model, sa.inspect(row).identity[0]), row) for row in rows)


def get_locked(session: Session, model: type[R], key: str) -> R | None:
    """The row of ``model`` with this primary key, locked for this transaction, or None."""
    held = session.info.get(_LOCKED_ROWS, {}).get((model, key))
    if held is not None:
        return cast(R, held)
    return session.get(model, key, with_for_update=True, populate_existing=True)


_LOADED_ROWS = transaction_local("lienthong.loaded_rows")


def _loaded(session: Session) -> dict[tuple[type[object], str], object | None]:
    loaded: dict[tuple[type[object], str], object | None] = session.info.setdefault(
        _LOADED_ROWS, {}
    )
    return loaded


def load_rows(session: Session, model: type[object], keys: Iterable[str]) -> None:
    """Read the rows of ``model`` with these primary keys in one query (per
    ``KEYS_PER_QUERY`` keys, no lock), so that a batch's handlers find them, or find
    them absent, with :func:`get_row` instead of reading (and autoflushing) once each."""
    loaded = _loaded(session)
    wanted = {key for key in keys if (model, key) not in loaded}
    if not wanted:
        return
    key_column = sa.inspect(model).primary_key[0]
    rows = [
        row
        for chunk in _in_chunks(sorted(wanted))
        for row in session.scalars(sa.select(model).where(key_column.in_(chunk))).all()
    ]
    found = {sa.inspect(row).identity[0]: row for row in rows}
    loaded.update(((model, key), found.get(key)) for key in wanted)


def get_row(session: Session, model: type[R], key: str) -> R | None:
    """The row of ``model`` with this primary key, or None; read at most once per
    transaction. Rows this transaction adds are found only through :func:`add_row`."""
    loaded = _loaded(session)
    if (model, key) not in loaded:
        with session.no_autoflush:  # a read of its own: pending changes flush at commit
            loaded[(model, key)] = session.get(model, key)
    return cast(R | None, loaded[(model, key)])


def add_row(session: Session, row: object) -> None:
    """``session.add``, and :func:`get_row` finds the new row for the rest of the
    transaction (a later message of the same batch may name it)."""
    session.add(row)
    mapper = sa.inspect(row).mapper
    _loaded(session)[(mapper.class_, mapper.primary_key_from_instance(row)[0])] = row


def alembic_config(url: str, script_location: Path, service: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["version_table"] = f"alembic_version_{service}"
    return config


def upgrade(url: str, script_location: Path, service: str) -> None:
    command.upgrade(alembic_config(url, script_location, service), "head")


def run_alembic_env(target_metadata: sa.MetaData) -> None:
    """Body of every service's migrations/env.py (online mode only)."""
    from alembic import context

    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=config.attributes.get("version_table", "alembic_version"),
            render_as_batch=engine.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
