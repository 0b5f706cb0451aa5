"""The ledger's rows as plain objects: what the feed and the rebuild work on.

ORM instances would cost more than the rules themselves: the feed reads a batch's rows
with one query per table, changes them in memory, and writes back at commit only the
rows whose facts changed, each table in one statement."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.routing.ledger.counters import as_json, record_columns
from services.routing.ledger.scope import in_codes
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


def read(
    session: Session, documents: list[str], delivery_ids: list[str]
) -> tuple[list[ExchangeRow], list[DeliveryRow]]:
    """The ledger rows of these exchanges and of the exchanges of these deliveries, in
    one query (on PostgreSQL with array parameters: one prepared statement)."""
    e, d = EXCHANGES, DELIVERIES
    wanted = []
    if documents:
        wanted.append(in_codes(session, e.c.document, documents))
    if delivery_ids:
        of_deliveries = sa.select(d.c.document).where(
            in_codes(session, d.c.delivery_id, delivery_ids)
        )
        wanted.append(e.c.document.in_(of_deliveries.scalar_subquery()))
    if not wanted:
        return [], []
    query = (
        sa.select(*(e.c[n] for n in _EXCHANGE_COLUMNS), *(d.c[n] for n in _DELIVERY_COLUMNS))
        .select_from(e.outerjoin(d, d.c.document == e.c.document))
        .where(sa.or_(*wanted))
    )
    exchanges: dict[str, ExchangeRow] = {}
    deliveries: list[DeliveryRow] = []
    width = len(_EXCHANGE_COLUMNS)
    for r in session.execute(query):
        if r[0] not in exchanges:
            exchanges[r[0]] = ExchangeRow(*r[:width])
        if r[width] is not None:
            deliveries.append(DeliveryRow(*r[width:]))
    return list(exchanges.values()), deliveries


def insert(session: Session, exchanges: list[ExchangeRow], deliveries: list[DeliveryRow]) -> None:
    for table, names, rows in (
        (EXCHANGES, _EXCHANGE_COLUMNS, exchanges),
        (DELIVERIES, _DELIVERY_COLUMNS, deliveries),
    ):
        if rows:
            session.execute(table.insert(), [{n: getattr(r, n) for n in names} for r in rows])


_UPDATE_SQL: dict[str, sa.TextClause] = {}


def _json_update(
    table: sa.Table, key: str, names: tuple[str, ...], dialect: sa.Dialect
) -> sa.TextClause:
    """PostgreSQL: every row's new facts in one statement, as one JSON parameter."""
    if table.name not in _UPDATE_SQL:
        columns = (key, *names)
        _UPDATE_SQL[table.name] = sa.text(
            f"UPDATE {table.name} AS t SET "
            + ", ".join(f"{n} = v.{n}" for n in names)
            + " FROM json_to_recordset(CAST(:rows AS json)) "
            + f"AS v({record_columns(table, columns, dialect)}) WHERE t.{key} = v.{key}"
        )
    return _UPDATE_SQL[table.name]


def update(session: Session, exchanges: list[ExchangeRow], deliveries: list[DeliveryRow]) -> None:
    """Write the facts of rows that changed: one statement per table (on PostgreSQL the
    rows as one JSON parameter; elsewhere one executemany)."""
    dialect = session.get_bind().dialect
    for table, key, names, rows in (
        (EXCHANGES, "document", EXCHANGE_FACTS, exchanges),
        (DELIVERIES, "delivery_id", DELIVERY_FACTS, deliveries),
    ):
        if not rows:
            continue
        if dialect.name == "postgresql":
            values = [{c: getattr(r, c) for c in (key, *names)} for r in rows]
            session.execute(_json_update(table, key, names, dialect), {"rows": as_json(values)})
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
