"""Rebuilding the ledger from routing's stored records (exchanges, deliveries, their
status events, the signature verdicts), with the same rules the incremental feed
applies as events arrive: both give the same rows and the same counters.

It runs in one transaction holding the audit head lock, so nothing routing records
interleaves with it (routing's writers wait until it commits).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.common.db import Database
from services.routing import audit
from services.routing.ledger.feed import (
    DAILY_COUNTERS,
    Contribution,
    contribution,
    mark_status,
    settle,
)
from services.routing.ledger.rules import vietnam_day
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


def rebuild(db: Database, *, progress: Any = None) -> Rebuilt:
    """Empty the ledger and fill it again from routing's records."""
    total = Contribution.empty()
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
            for r in rows:
                total.add(contribution(r, deliveries.get(r.document, [])))
            n_exchanges += len(rows)
            n_deliveries += len(delivery_rows)
            if progress is not None:
                progress(n_exchanges)
        daily: dict[tuple[str, Any], dict[str, int]] = {}
        for (agency, day, column), n in total.daily.items():
            daily.setdefault((agency, day), dict.fromkeys(DAILY_COUNTERS, 0))[column] += n
        daily_rows = [{"agency": a, "day": d, **cols} for (a, d), cols in sorted(daily.items())]
        latency_rows = [
            {"agency": a, "day": d, "kind": k, "bucket": b, "count": n}
            for (a, d, k, b), n in sorted(total.latency.items())
            if n
        ]
        for table, values in (
            (cast(sa.Table, LedgerDaily.__table__), daily_rows),
            (cast(sa.Table, LedgerLatency.__table__), latency_rows),
        ):
            for i in range(0, len(values), 5000):
                session.execute(table.insert(), values[i : i + 5000])
    return Rebuilt(n_exchanges, n_deliveries, len(daily_rows), len(latency_rows))
