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
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.common.db import Database
from services.routing import audit
from services.routing.ledger.feed import mark_status, settle
from services.routing.ledger.rules import Latency, vietnam_day
from services.routing.models import (
    Delivery,
    Exchange,
    LedgerDaily,
    LedgerDelivery,
    LedgerExchange,
    LedgerLatency,
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


def _chunks(session: Session) -> Iterator[list[Exchange]]:
    last = ""
    while True:
        chunk = list(
            session.scalars(
                sa.select(Exchange)
                .where(Exchange.document > last)
                .order_by(Exchange.document)
                .limit(CHUNK)
            )
        )
        if not chunk:
            return
        yield chunk
        last = chunk[-1].document
        session.expunge_all()


def _columns(row: object, table: sa.Table) -> dict[str, Any]:
    return {c.name: getattr(row, c.key) for c in table.columns}


_EXCHANGES = cast(sa.Table, LedgerExchange.__table__)
_DELIVERIES = cast(sa.Table, LedgerDelivery.__table__)


def _ledger_rows(
    session: Session, chunk: list[Exchange]
) -> tuple[list[LedgerExchange], dict[str, list[LedgerDelivery]]]:
    documents = [e.document for e in chunk]
    verdicts = {
        v.document: v
        for v in session.scalars(
            sa.select(SignatureVerdict).where(SignatureVerdict.document.in_(documents))
        )
    }
    replaced = set(
        session.scalars(sa.select(Exchange.supersedes).where(Exchange.supersedes.in_(documents)))
    )
    deliveries = list(session.scalars(sa.select(Delivery).where(Delivery.document.in_(documents))))
    events: dict[str, list[tuple[int, str, datetime]]] = {}
    for delivery_id, seq, code, at in session.execute(
        sa.select(StatusEvent.delivery_id, StatusEvent.seq, StatusEvent.code, StatusEvent.at)
        .join(Delivery, Delivery.id == StatusEvent.delivery_id)
        .where(Delivery.document.in_(documents))
    ):
        events.setdefault(delivery_id, []).append((seq, code, at))
    by_exchange: dict[str, list[LedgerDelivery]] = {}
    sent = {e.document: e for e in chunk}
    for d in deliveries:
        exchange = sent[d.document]
        kept = LedgerDelivery(
            delivery_id=d.id,
            document=d.document,
            sender_code=exchange.sender_code,
            recipient_code=d.recipient_code,
            sent_at=exchange.received_at,
            sent_day=vietnam_day(exchange.received_at),
            arrived_at=None,
            registered_at=None,
            completed_at=None,
            rejected=False,
            taken_back=False,
            due_at=d.due_at,
            due_day=vietnam_day(d.due_at) if d.due_at else None,
            delivery_bucket=None,
            registration_bucket=None,
        )
        for _seq, code, at in sorted(events.get(d.id, ())):
            mark_status(kept, code, at)
        by_exchange.setdefault(d.document, []).append(kept)
    rows: list[LedgerExchange] = []
    for e in chunk:
        verdict = verdicts.get(e.document)
        row = LedgerExchange(
            document=e.document,
            document_id=e.document_id,
            sender_code=e.sender_code,
            subject=e.subject,
            sent_at=e.received_at,
            sent_day=vietnam_day(e.received_at),
            scanned=verdict.scanned if verdict else None,
            organization_signed=verdict.organization_signed if verdict else None,
            paper=bool(e.paper),
            replaced=e.document in replaced,
        )
        settle(row, by_exchange.get(e.document, []))
        rows.append(row)
    return rows, by_exchange


# The counters, summed from the rebuilt rows: the same sums ``feed.contribution`` adds
# one exchange at a time (the tests hold the two to the same result).
_DAILY_SQL = sa.text(
    """
    INSERT INTO ledger_daily
        (agency, day, exchanges, fully_electronic, signed, taken_back, due, on_time, late, open)
    SELECT agency, day, SUM(exchanges), SUM(fully_electronic), SUM(signed), SUM(taken_back),
           SUM(due), SUM(on_time), SUM(late), SUM(open)
    FROM (
        SELECT sender_code AS agency, sent_day AS day, COUNT(*) AS exchanges,
               SUM(CASE WHEN fully_electronic THEN 1 ELSE 0 END) AS fully_electronic,
               SUM(CASE WHEN signed THEN 1 ELSE 0 END) AS signed,
               SUM(CASE WHEN taken_back THEN 1 ELSE 0 END) AS taken_back,
               0 AS due, 0 AS on_time, 0 AS late, 0 AS open
        FROM ledger_exchanges GROUP BY sender_code, sent_day
        UNION ALL
        SELECT recipient_code, due_day, 0, 0, 0, 0, COUNT(*),
               SUM(CASE WHEN due_state = 'on_time' THEN 1 ELSE 0 END),
               SUM(CASE WHEN due_state = 'late' THEN 1 ELSE 0 END),
               SUM(CASE WHEN due_state = 'open' THEN 1 ELSE 0 END)
        FROM ledger_deliveries
        WHERE due_state <> 'not_due' AND due_day IS NOT NULL
        GROUP BY recipient_code, due_day
    ) AS parts
    GROUP BY agency, day
    """
)
_LATENCY_SQL = sa.text(
    """
    INSERT INTO ledger_latency (agency, day, kind, bucket, count)
    SELECT sender_code, sent_day, :delivery, delivery_bucket, COUNT(*)
    FROM ledger_deliveries WHERE delivery_bucket IS NOT NULL
    GROUP BY sender_code, sent_day, delivery_bucket
    UNION ALL
    SELECT sender_code, sent_day, :registration, registration_bucket, COUNT(*)
    FROM ledger_deliveries WHERE registration_bucket IS NOT NULL
    GROUP BY sender_code, sent_day, registration_bucket
    """
)


def rebuild(db: Database, *, progress: Callable[[int], None] | None = None) -> Rebuilt:
    """Empty the ledger and fill it again from routing's records."""
    n_exchanges = n_deliveries = 0
    with db.unit_of_work() as session:
        audit.lock_head(session)
        for model in (LedgerLatency, LedgerDaily, LedgerDelivery, LedgerExchange):
            session.execute(sa.delete(model))
        for chunk in _chunks(session):
            rows, deliveries = _ledger_rows(session, chunk)
            session.execute(_EXCHANGES.insert(), [_columns(r, _EXCHANGES) for r in rows])
            delivery_rows = [d for r in rows for d in deliveries.get(r.document, [])]
            if delivery_rows:
                session.execute(
                    _DELIVERIES.insert(), [_columns(d, _DELIVERIES) for d in delivery_rows]
                )
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
        daily_rows = session.scalar(sa.select(sa.func.count()).select_from(LedgerDaily)) or 0
        latency_rows = session.scalar(sa.select(sa.func.count()).select_from(LedgerLatency)) or 0
    return Rebuilt(n_exchanges, n_deliveries, daily_rows, latency_rows)
