"""What is behind the e-share figures: the exchanges (each with its reasons) and the
overdue work, from the ledger's rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from services.common.db import Database
from services.common.errors import BadRequest
from services.common.internal_api import (
    EShareDelivery,
    EShareExchange,
    EShareExchangePage,
    EShareOverduePage,
    EShareQuery,
)
from services.routing.ledger.queries import counter_sums
from services.routing.ledger.rules import (
    VIETNAM,
    DueState,
    Reason,
    decode_reasons,
    reason_column,
    vietnam_day,
)
from services.routing.ledger.scope import agencies_in_scope, in_codes
from services.routing.models import Exchange, LedgerDelivery, LedgerExchange


def _cursor(row: LedgerExchange) -> str:
    return f"{row.sent_at.isoformat()}|{row.document}"


def _parse_cursor(text: str) -> tuple[datetime, str]:
    try:
        at, document = text.split("|", 1)
        return datetime.fromisoformat(at), document
    except ValueError as e:
        raise BadRequest("after must be a cursor this API returned") from e


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _delivery(d: LedgerDelivery) -> EShareDelivery:
    return {
        "OrganId": d.recipient_code,
        "arrived_at": _iso(d.arrived_at),
        "registered_at": _iso(d.registered_at),
        "completed_at": _iso(d.completed_at),
        "due_at": _iso(d.due_at),
        "due_state": d.due_state,
        "rejected": d.rejected,
        "taken_back": d.taken_back,
    }


def exchange_view(row: LedgerExchange, deliveries: Iterable[LedgerDelivery]) -> EShareExchange:
    return {
        "document": row.document,
        "document_id": row.document_id,
        "sender": row.sender_code,
        "subject": row.subject,
        "sent_at": row.sent_at.isoformat(),
        "sent_day": row.sent_day.isoformat(),
        "fully_electronic": row.fully_electronic,
        "signed": row.signed,
        "scanned": row.scanned,
        "paper": row.paper,
        "taken_back": row.taken_back,
        "reasons": [{"code": r.value, "label": r.vi} for r in decode_reasons(row.reasons)],
        "deliveries": [_delivery(d) for d in sorted(deliveries, key=lambda d: d.recipient_code)],
    }


def _exchanges_page(
    session: Session,
    codes: list[str],
    start: date,
    end: date,
    where: list[sa.ColumnElement[bool]],
    limit: int,
) -> list[LedgerExchange]:
    """The first ``limit`` exchanges in (sent time, id) order. On PostgreSQL, each
    agency's own first ``limit`` from the index (sender, sent time, id), then the first
    of those: a national office's page no longer sorts its two years' exchanges."""
    order = (LedgerExchange.sent_at, LedgerExchange.document)
    if session.get_bind().dialect.name != "postgresql" or len(codes) == 1:
        return list(
            session.scalars(
                sa.select(LedgerExchange)
                .where(in_codes(session, LedgerExchange.sender_code, codes), *where)
                .order_by(*order)
                .limit(limit)
            )
        )
    first, after = day_instants(start, end)

    def of_agency(code: sa.ColumnElement[str]) -> sa.Select[str, Any]:
        return (
            sa.select(LedgerExchange.document, LedgerExchange.sent_at)
            .where(
                LedgerExchange.sender_code == code,
                # The days as instants: the index's order (a row's sent day is the
                # Vietnam day of its sent time).
                LedgerExchange.sent_at >= first,
                LedgerExchange.sent_at < after,
                *where,
            )
            .order_by(*order)
        )

    documents = _first_of_each(session, codes, of_agency, limit)
    return list(
        session.scalars(
            sa.select(LedgerExchange).where(LedgerExchange.document.in_(documents)).order_by(*order)
        )
    )


def _exchanges_total(session: Session, codes: list[str], query: EShareQuery) -> int:
    """How many exchanges the listing has, from the counters (an exchange with a
    reason is not fully electronic)."""
    if query.reason is not None:
        if query.fully_electronic:
            return 0
        column = reason_column(Reason(query.reason))
        return counter_sums(session, codes, query.start, query.end, (column,))[column]
    sums = counter_sums(session, codes, query.start, query.end, ("exchanges", "fully_electronic"))
    return {
        None: sums["exchanges"],
        True: sums["fully_electronic"],
        False: sums["exchanges"] - sums["fully_electronic"],
    }[query.fully_electronic]


def exchanges(
    db: Database, query: EShareQuery, *, limit: int, after: str | None = None
) -> EShareExchangePage:
    """The exchanges sent in the period by the agencies in scope, oldest first."""
    if query.reason is not None and query.reason not in {r.value for r in Reason}:
        raise BadRequest(f"unknown reason {query.reason!r}")
    with db.reading() as session:
        codes = agencies_in_scope(
            session, query.viewer, query.agency, include_children=query.include_children
        )
        where: list[sa.ColumnElement[bool]] = [
            LedgerExchange.sent_day.between(query.start, query.end),
        ]
        if query.fully_electronic is not None:
            where.append(LedgerExchange.fully_electronic.is_(query.fully_electronic))
        if query.reason is not None:
            where.append(
                sa.literal(",")
                .concat(LedgerExchange.reasons)
                .concat(",")
                .contains(f",{query.reason},")
            )
        total = _exchanges_total(session, codes, query)
        if after:
            at, document = _parse_cursor(after)
            where.append(
                sa.or_(
                    LedgerExchange.sent_at > at,
                    sa.and_(LedgerExchange.sent_at == at, LedgerExchange.document > document),
                )
            )
        page = _exchanges_page(session, codes, query.start, query.end, where, limit + 1)
        more = len(page) > limit
        page = page[:limit]
        deliveries: dict[str, list[LedgerDelivery]] = {}
        if page:
            for d in session.scalars(
                sa.select(LedgerDelivery).where(
                    LedgerDelivery.document.in_([r.document for r in page])
                )
            ):
                deliveries.setdefault(d.document, []).append(d)
        return {
            "total": total,
            "exchanges": [exchange_view(r, deliveries.get(r.document, [])) for r in page],
            "next": _cursor(page[-1]) if more and page else None,
        }


def day_instants(start: date, end: date) -> tuple[datetime, datetime]:
    """The instants of the Vietnam days ``start`` … ``end``: [start 00:00, end + 1 day
    00:00), in UTC."""
    first = datetime.combine(start, time(0), VIETNAM).astimezone(UTC)
    after = datetime.combine(end + timedelta(days=1), time(0), VIETNAM).astimezone(UTC)
    return first, after


def due_window(start: date, end: date, now: datetime) -> tuple[datetime, datetime]:
    """The instants of work due on the Vietnam days ``start`` … ``end`` and overdue by
    ``now``: [start 00:00, min(end + 1 day 00:00, now)) (a delivery's ``due_day`` is the
    Vietnam day of its ``due_at``, so the range of one is the range of the other)."""
    first, after = day_instants(start, end)
    return first, min(after, now)


def _overdue_page(
    session: Session, codes: list[str], where: list[sa.ColumnElement[bool]], limit: int
) -> list[str]:
    """The ids of the ``limit`` most overdue deliveries. On PostgreSQL, each agency's
    own first ``limit`` from the open-work index (recipient, due time, id), then the
    first ``limit`` of those: a few index entries per agency, however much open work
    the scope has (a national office's two years: half a million)."""
    order = (LedgerDelivery.due_at, LedgerDelivery.delivery_id)
    if session.get_bind().dialect.name != "postgresql" or len(codes) == 1:
        return list(
            session.scalars(
                sa.select(LedgerDelivery.delivery_id)
                .where(LedgerDelivery.recipient_code.in_(codes), *where)
                .order_by(*order)
                .limit(limit)
            )
        )

    def of_agency(code: sa.ColumnElement[str]) -> sa.Select[str, Any]:
        return (
            sa.select(LedgerDelivery.delivery_id, LedgerDelivery.due_at)
            .where(LedgerDelivery.recipient_code == code, *where)
            .order_by(*order)
        )

    return _first_of_each(session, codes, of_agency, limit)


def _first_of_each(
    session: Session,
    codes: list[str],
    of_agency: Callable[[sa.ColumnElement[str]], sa.Select[str, Any]],
    limit: int,
) -> list[str]:
    """PostgreSQL: each agency's first ``limit`` rows (``of_agency``: the id, then the
    columns it is ordered by, from an index in that order), then the ids of the first
    ``limit`` of those."""
    scope = (
        sa.func.unnest(sa.literal(codes, postgresql.ARRAY(sa.String)))
        .table_valued("code")
        .render_derived(name="scope")
    )
    first = of_agency(scope.c.code).limit(limit).lateral("first")
    key, *order = first.c
    return list(
        session.scalars(
            sa.select(key)
            .select_from(scope)
            .join(first, sa.true())
            .order_by(*order, key)
            .limit(limit)
        )
    )


def _overdue_total(
    session: Session,
    codes: list[str],
    start: date,
    end: date,
    now: datetime,
    where: list[sa.ColumnElement[bool]],
) -> int:
    """How many are overdue: what the counters hold as open on the days before today,
    and today's open work past its due time, counted from the open-work index."""
    today = vietnam_day(now)
    yesterday = min(end, today - timedelta(days=1))
    total = counter_sums(session, codes, start, yesterday, ("open",), today=today)["open"]
    if start <= today <= end:
        since, _ = day_instants(today, today)
        counted = sa.select(sa.func.count()).where(
            in_codes(session, LedgerDelivery.recipient_code, codes),
            *where,
            LedgerDelivery.due_at >= since,
        )
        total += session.scalar(counted) or 0
    return total


def overdue(
    db: Database,
    query: EShareQuery,
    *,
    limit: int,
    now: datetime | None = None,
    count: bool = True,
) -> EShareOverduePage:
    """Work addressed to the agencies in scope, due in the period and not completed
    by now, most overdue first, and how many there are (``count=False`` leaves the
    total out: None)."""
    now = now or datetime.now(UTC)
    first, until = due_window(query.start, query.end, now)
    with db.reading() as session:
        codes = agencies_in_scope(
            session, query.viewer, query.agency, include_children=query.include_children
        )
        # From the partial index of open work alone (recipient, due time, id).
        where = [
            LedgerDelivery.due_state == DueState.OPEN.value,
            LedgerDelivery.due_at >= first,
            LedgerDelivery.due_at < until,
        ]
        total = None
        if count:
            total = _overdue_total(session, codes, query.start, query.end, now, where)
        page = _overdue_page(session, codes, where, limit)
        rows = session.execute(
            sa.select(LedgerDelivery, Exchange.document_id, Exchange.subject)
            .join(Exchange, Exchange.document == LedgerDelivery.document)
            .where(LedgerDelivery.delivery_id.in_(page))
            .order_by(LedgerDelivery.due_at, LedgerDelivery.delivery_id)
        ).all()
    return {
        "total": total,
        "as_of": now.isoformat(),
        "overdue": [
            {
                "delivery_id": d.delivery_id,
                "document": d.document,
                "document_id": document_id,
                "subject": subject,
                "sender": d.sender_code,
                "OrganId": d.recipient_code,
                "due_at": d.due_at.isoformat() if d.due_at else "",
                "overdue_days": (vietnam_day(now) - d.due_day).days if d.due_day else 0,
            }
            for d, document_id, subject in rows
        ],
    }
