"""The ledger's rows as plain objects: what the feed and the rebuild work on.

ORM instances would cost more than the rules themselves: the feed reads a batch's rows
with one query per table, changes them in memory, and writes back at commit only the
rows whose facts changed, each table in one statement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.common.db import driver_connection
from services.routing.ledger.counters import as_json, record_columns
from services.routing.models import LedgerDelivery, LedgerExchange

EXCHANGES = cast(sa.Table, LedgerExchange.__table__)
DELIVERIES = cast(sa.Table, LedgerDelivery.__table__)


@dataclass(slots=True)
class ExchangeRow:
    """A ledger_exchanges row (plain: no ORM instrumentation)."""

    document: str
    document_id: str
    sender_code: str
    subject: str
    sent_at: datetime
    sent_day: date
    scanned: bool | None
    organization_signed: bool | None
    paper: bool
    replaced: bool
    fully_electronic: bool = False
    signed: bool = False
    taken_back: bool = False
    reasons: str = ""


@dataclass(slots=True)
class DeliveryRow:
    """A ledger_deliveries row."""

    delivery_id: str
    document: str
    sender_code: str
    recipient_code: str
    sent_at: datetime
    sent_day: date
    due_at: datetime | None
    due_day: date | None
    arrived_at: datetime | None = None
    registered_at: datetime | None = None
    completed_at: datetime | None = None
    rejected: bool = False
    taken_back: bool = False
    due_state: str = ""
    delivery_bucket: int | None = None
    registration_bucket: int | None = None


#: What the hooks change on a row; the rest is set once, when the exchange is routed.
EXCHANGE_FACTS = (
    "scanned",
    "organization_signed",
    "replaced",
    "fully_electronic",
    "signed",
    "taken_back",
    "reasons",
)
DELIVERY_FACTS = (
    "arrived_at",
    "registered_at",
    "completed_at",
    "rejected",
    "taken_back",
    "due_state",
    "delivery_bucket",
    "registration_bucket",
)
_EXCHANGE_COLUMNS = tuple(f.name for f in fields(ExchangeRow))
_DELIVERY_COLUMNS = tuple(f.name for f in fields(DeliveryRow))


def facts_of(row: ExchangeRow | DeliveryRow) -> tuple[Any, ...]:
    names = EXCHANGE_FACTS if isinstance(row, ExchangeRow) else DELIVERY_FACTS
    return tuple(getattr(row, n) for n in names)


# The exchanges named, with those of the deliveries named, as one set: an OR of the two
# conditions costs PostgreSQL a scan of the whole ledger.
_READ_SQL = (
    f"SELECT {', '.join(f'e.{n}' for n in _EXCHANGE_COLUMNS)}, "
    f"{', '.join(f'd.{n}' for n in _DELIVERY_COLUMNS)} "
    "FROM ledger_exchanges AS e LEFT JOIN ledger_deliveries AS d ON d.document = e.document "
    "WHERE e.document IN (SELECT unnest(CAST(%(documents)s AS text[])) UNION ALL "
    "SELECT document FROM ledger_deliveries WHERE delivery_id = ANY(%(ids)s))"
)


def read(
    session: Session, documents: list[str], delivery_ids: list[str]
) -> tuple[list[ExchangeRow], list[DeliveryRow]]:
    """The ledger rows of these exchanges and of the exchanges of these deliveries, in
    one query. On PostgreSQL through the driver, with array parameters: one prepared
    statement, its rows taken as the driver makes them (a batch's read is the feed's
    largest single cost, and the statement layer's result handling was half of it)."""
    if not documents and not delivery_ids:
        return [], []
    raw = driver_connection(session)
    if raw is not None:
        with raw.cursor() as cursor:
            cursor.execute(_READ_SQL, {"documents": documents, "ids": delivery_ids})
            return _rows(cursor.fetchall())
    e, d = EXCHANGES, DELIVERIES
    wanted = []
    if documents:
        wanted.append(e.c.document.in_(documents))
    if delivery_ids:
        of_deliveries = sa.select(d.c.document).where(d.c.delivery_id.in_(delivery_ids))
        wanted.append(e.c.document.in_(of_deliveries.scalar_subquery()))
    query = (
        sa.select(*(e.c[n] for n in _EXCHANGE_COLUMNS), *(d.c[n] for n in _DELIVERY_COLUMNS))
        .select_from(e.outerjoin(d, d.c.document == e.c.document))
        .where(sa.or_(*wanted))
    )
    return _rows(session.execute(query).all())


def _rows(found: Sequence[Sequence[Any]]) -> tuple[list[ExchangeRow], list[DeliveryRow]]:
    exchanges: dict[str, ExchangeRow] = {}
    deliveries: list[DeliveryRow] = []
    width = len(_EXCHANGE_COLUMNS)
    for r in found:
        if r[0] not in exchanges:
            exchanges[r[0]] = ExchangeRow(*r[:width])
        if r[width] is not None:
            deliveries.append(DeliveryRow(*r[width:]))
    return list(exchanges.values()), deliveries


def insert(session: Session, exchanges: list[ExchangeRow], deliveries: list[DeliveryRow]) -> None:
    write(session, EXCHANGES, exchanges)
    write(session, DELIVERIES, deliveries)


def write(session: Session, table: sa.Table, rows: list[Any]) -> None:
    """Insert plain rows: by COPY on PostgreSQL (no parameters processed row by row),
    an executemany elsewhere."""
    if not rows:
        return
    names = [c.name for c in table.columns]
    raw = driver_connection(session)
    if raw is None:
        session.execute(table.insert(), [{n: getattr(r, n) for n in names} for r in rows])
        return
    with raw.cursor() as cursor:
        statement = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
        with cursor.copy(statement) as copy:
            for r in rows:
                copy.write_row(tuple(getattr(r, n) for n in names))


_UPDATE_SQL: dict[str, str] = {}


def _json_update(table: sa.Table, key: str, names: tuple[str, ...], dialect: sa.Dialect) -> str:
    """PostgreSQL: every row's new facts in one statement, as one JSON parameter."""
    if table.name not in _UPDATE_SQL:
        columns = (key, *names)
        _UPDATE_SQL[table.name] = (
            f"UPDATE {table.name} AS t SET "
            + ", ".join(f"{n} = v.{n}" for n in names)
            + " FROM json_to_recordset(CAST(%(rows)s AS json)) "
            + f"AS v({record_columns(table, columns, dialect)}) WHERE t.{key} = v.{key}"
        )
    return _UPDATE_SQL[table.name]


def update(session: Session, exchanges: list[ExchangeRow], deliveries: list[DeliveryRow]) -> None:
    """Write the facts of rows that changed: one statement per table (on PostgreSQL the
    rows as one JSON parameter, through the driver; elsewhere one executemany)."""
    raw = driver_connection(session)
    for table, key, names, rows in (
        (EXCHANGES, "document", EXCHANGE_FACTS, exchanges),
        (DELIVERIES, "delivery_id", DELIVERY_FACTS, deliveries),
    ):
        if not rows:
            continue
        if raw is not None:
            values = [{c: getattr(r, c) for c in (key, *names)} for r in rows]
            sql = _json_update(table, key, names, session.get_bind().dialect)
            raw.execute(sql, {"rows": as_json(values)})
            continue
        statement = (
            table.update()
            .where(table.c[key] == sa.bindparam("_key"))
            .values({n: sa.bindparam(f"_{n}", type_=table.c[n].type) for n in names})
        )
        session.execute(
            statement,
            [{"_key": getattr(r, key), **{f"_{n}": getattr(r, n) for n in names}} for r in rows],
        )
