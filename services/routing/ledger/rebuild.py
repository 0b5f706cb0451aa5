"""Rebuilding the ledger from routing's stored records (exchanges, deliveries, their
status events, the signature verdicts), with the same rules the incremental feed
applies as events arrive: both give the same rows and the same counters.

It runs in one transaction holding the audit head lock, so nothing routing records
interleaves with it (routing's writers wait until it commits).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.common.db import Database
from services.routing import audit
from services.routing.ledger.counters import DAILY_COUNTERS, REASON_COUNTERS
from services.routing.ledger.feed import mark_status, settle
from services.routing.ledger.rows import DELIVERIES, EXCHANGES, DeliveryRow, ExchangeRow, write
from services.routing.ledger.rules import (
    LATENCY_BUCKETS,
    Latency,
    Reason,
    bucket_column,
    reason_column,
    vietnam_day,
)
from services.routing.models import (
    Delivery,
    Exchange,
    LedgerDaily,
    LedgerDelivery,
    LedgerExchange,
    LedgerLatency,
    LedgerLatencyMonthly,
    LedgerMonthly,
    SignatureVerdict,
    StatusEvent,
)

CHUNK = 2000


@dataclass(frozen=True)
class Rebuilt:
    exchanges: int
    deliveries: int
    daily_rows: int
    latency_rows: int


def _chunks(session: Session) -> Iterator[list[Any]]:
    """The exchanges, a chunk at a time, as plain rows (by document)."""
    last = ""
    while True:
        chunk = list(
            session.execute(
                sa.select(
                    Exchange.document,
                    Exchange.document_id,
                    Exchange.sender_code,
                    Exchange.subject,
                    Exchange.paper,
                    Exchange.received_at,
                )
                .where(Exchange.document > last)
                .order_by(Exchange.document)
                .limit(CHUNK)
            )
        )
        if not chunk:
            return
        yield chunk
        last = chunk[-1].document


def _ledger_rows(
    session: Session, chunk: list[Any]
) -> tuple[list[ExchangeRow], dict[str, list[DeliveryRow]]]:
    documents = [e.document for e in chunk]
    verdicts = {
        document: (signed, scanned)
        for document, signed, scanned in session.execute(
            sa.select(
                SignatureVerdict.document,
                SignatureVerdict.organization_signed,
                SignatureVerdict.scanned,
            ).where(SignatureVerdict.document.in_(documents))
        )
    }
    replaced = set(
        session.scalars(sa.select(Exchange.supersedes).where(Exchange.supersedes.in_(documents)))
    )
    events: dict[str, list[tuple[int, str, datetime]]] = {}
    for delivery_id, seq, code, at in session.execute(
        sa.select(StatusEvent.delivery_id, StatusEvent.seq, StatusEvent.code, StatusEvent.at)
        .join(Delivery, Delivery.id == StatusEvent.delivery_id)
        .where(Delivery.document.in_(documents))
    ):
        events.setdefault(delivery_id, []).append((seq, code, at))
    sent = {e.document: e for e in chunk}
    days = {e.document: vietnam_day(e.received_at) for e in chunk}
    by_exchange: dict[str, list[DeliveryRow]] = {}
    for delivery_id, document, recipient, due in session.execute(
        sa.select(Delivery.id, Delivery.document, Delivery.recipient_code, Delivery.due_at).where(
            Delivery.document.in_(documents)
        )
    ):
        exchange = sent[document]
        kept = DeliveryRow(
            delivery_id=delivery_id,
            document=document,
            sender_code=exchange.sender_code,
            recipient_code=recipient,
            sent_at=exchange.received_at,
            sent_day=days[document],
            due_at=due,
            due_day=vietnam_day(due) if due else None,
        )
        for _seq, code, at in sorted(events.get(delivery_id, ())):
            mark_status(kept, code, at)
        by_exchange.setdefault(document, []).append(kept)
    rows: list[ExchangeRow] = []
    for e in chunk:
        signed, scanned = verdicts.get(e.document, (None, None))
        row = ExchangeRow(
            document=e.document,
            document_id=e.document_id,
            sender_code=e.sender_code,
            subject=e.subject,
            sent_at=e.received_at,
            sent_day=days[e.document],
            scanned=scanned,
            organization_signed=signed,
            paper=bool(e.paper),
            replaced=e.document in replaced,
        )
        settle(row, by_exchange.get(e.document, []))
        rows.append(row)
    return rows, by_exchange


def _reason_sums() -> str:
    """Per reason, how many of the grouped exchanges have it (``reasons`` is ``a,b``)."""
    return ", ".join(
        f"SUM(CASE WHEN ',' || reasons || ',' LIKE '%,{r.value},%' THEN 1 ELSE 0 END) "
        f"AS {reason_column(r)}"
        for r in Reason
    )


# The counters, summed from the rebuilt rows: the same sums ``feed.contribution`` adds
# one exchange at a time (the tests hold the two to the same result). Written day by
# day, as the feed writes them: the days of a period are read together, every agency
# of a national office's scope at once, from a few pages rather than one per agency.
_DAILY_SQL = sa.text(
    f"""
    INSERT INTO ledger_daily (agency, day, {", ".join(DAILY_COUNTERS)})
    SELECT agency, day, {", ".join(f"SUM({c})" for c in DAILY_COUNTERS)}
    FROM (
        SELECT sender_code AS agency, sent_day AS day, COUNT(*) AS exchanges,
               SUM(CASE WHEN fully_electronic THEN 1 ELSE 0 END) AS fully_electronic,
               SUM(CASE WHEN signed THEN 1 ELSE 0 END) AS signed,
               SUM(CASE WHEN taken_back THEN 1 ELSE 0 END) AS taken_back,
               0 AS due, 0 AS on_time, 0 AS late, 0 AS open, {_reason_sums()}
        FROM ledger_exchanges GROUP BY sender_code, sent_day
        UNION ALL
        SELECT recipient_code, due_day, 0, 0, 0, 0, COUNT(*),
               SUM(CASE WHEN due_state = 'on_time' THEN 1 ELSE 0 END),
               SUM(CASE WHEN due_state = 'late' THEN 1 ELSE 0 END),
               SUM(CASE WHEN due_state = 'open' THEN 1 ELSE 0 END),
               {", ".join("0" for _ in REASON_COUNTERS)}
        FROM ledger_deliveries
        WHERE due_state <> 'not_due' AND due_day IS NOT NULL
        GROUP BY recipient_code, due_day
    ) AS parts
    GROUP BY agency, day
    ORDER BY day, agency
    """
)
_BUCKETS = [bucket_column(i) for i in range(LATENCY_BUCKETS)]
_LATENCY_SQL = sa.text(
    "INSERT INTO ledger_latency (agency, day, kind, {columns}) ".format(columns=", ".join(_BUCKETS))
    + " UNION ALL ".join(
        "SELECT sender_code, sent_day, :{kind}, {sums} FROM ledger_deliveries "
        "WHERE {column} IS NOT NULL GROUP BY sender_code, sent_day".format(
            kind=kind,
            column=column,
            sums=", ".join(
                f"SUM(CASE WHEN {column} = {i} THEN 1 ELSE 0 END)" for i in range(LATENCY_BUCKETS)
            ),
        )
        for kind, column in (
            ("delivery", "delivery_bucket"),
            ("registration", "registration_bucket"),
        )
    )
    + " ORDER BY 2, 1"
)


_MONTH = {
    "postgresql": "CAST(date_trunc('month', {c}) AS date)",
    "sqlite": "date({c}, 'start of month')",
}
_MONTHLY_SQL = (
    f"INSERT INTO ledger_monthly (agency, month, {', '.join(DAILY_COUNTERS)}) "
    f"SELECT agency, {{month}}, {', '.join(f'SUM({c})' for c in DAILY_COUNTERS)} "
    "FROM ledger_daily GROUP BY agency, {month}"
)
_LATENCY_MONTHLY_SQL = (
    f"INSERT INTO ledger_latency_monthly (agency, month, kind, {', '.join(_BUCKETS)}) "
    f"SELECT agency, {{month}}, kind, {', '.join(f'SUM({b})' for b in _BUCKETS)} "
    "FROM ledger_latency GROUP BY agency, {month}, kind"
)


def rebuild(db: Database, *, progress: Callable[[int], None] | None = None) -> Rebuilt:
    """Empty the ledger and fill it again from routing's records."""
    n_exchanges = n_deliveries = 0
    with db.unit_of_work() as session:
        audit.lock_head(session)
        for model in (
            LedgerLatencyMonthly,
            LedgerLatency,
            LedgerMonthly,
            LedgerDaily,
            LedgerDelivery,
            LedgerExchange,
        ):
            session.execute(sa.delete(model))
        for chunk in _chunks(session):
            rows, deliveries = _ledger_rows(session, chunk)
            write(session, EXCHANGES, rows)
            delivery_rows = [d for r in rows for d in deliveries.get(r.document, [])]
            write(session, DELIVERIES, delivery_rows)
            n_exchanges += len(rows)
            n_deliveries += len(delivery_rows)
            if progress is not None:
                progress(n_exchanges)
        session.execute(_DAILY_SQL)
        session.execute(
            _LATENCY_SQL,
            {
                "delivery": Latency.SENT_TO_ARRIVED.value,
                "registration": Latency.ARRIVED_TO_REGISTERED.value,
            },
        )
        month = _MONTH[session.get_bind().dialect.name].format(c="day")
        session.execute(sa.text(_MONTHLY_SQL.format(month=month)))
        session.execute(sa.text(_LATENCY_MONTHLY_SQL.format(month=month)))
        daily_rows = session.scalar(sa.select(sa.func.count()).select_from(LedgerDaily)) or 0
        latency_rows = session.scalar(sa.select(sa.func.count()).select_from(LedgerLatency)) or 0
    return Rebuilt(n_exchanges, n_deliveries, daily_rows, latency_rows)
