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
from services.routing.ledger.period_sums import counter_sums, counter_sums_by_agency
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
    listed: dict[str, int],
    start: date,
    end: date,
    where: list[sa.ColumnElement[bool]],
    limit: int,
    since: datetime | None = None,
) -> list[LedgerExchange]:
    """The first ``limit`` exchanges in (sent time, id) order of the agencies ``listed``
    (each with how many it has in the listing), sent at ``since`` or later. On
    PostgreSQL, each agency's own first ``limit`` from the index (sender, sent time,
    id), then the first of those: a national office's page no longer sorts its two
    years' exchanges."""
    order = (LedgerExchange.sent_at, LedgerExchange.document)
    codes = list(listed)
    if not codes:
        return []
    if session.get_bind().dialect.name != "postgresql" or len(codes) == 1:
        return list(
            session.scalars(
                sa.select(LedgerExchange)
                .where(in_codes(session, LedgerExchange.sender_code, codes), *where)
                .order_by(*order)
                .limit(min(limit, sum(listed.values())))
            )
        )
    first, after = day_instants(start, end)
    first = max(first, since) if since else first

    def first_until(until: datetime) -> list[str]:
        def of_agency(code: sa.ColumnElement[str]) -> sa.Select[str, Any]:
            return (
                sa.select(LedgerExchange.document, LedgerExchange.sent_at)
                .where(
                    LedgerExchange.sender_code == code,
                    # The days as instants: the index's order (a row's sent day is the
                    # Vietnam day of its sent time).
                    LedgerExchange.sent_at >= first,
                    LedgerExchange.sent_at < until,
                    *where,
                )
                .order_by(*order)
            )

        return _first_of_each(session, codes, of_agency, limit, list(listed.values()))

    # The page is a prefix in time: first look where it should be if the listing were
    # spread evenly over the period (with room for twice a page), which keeps each
    # agency's search short when what is listed is a small part of its exchanges; the
    # whole period when that window holds less than a page.
    window = (after - first) * min(1.0, 2 * limit / sum(listed.values()))
    documents = first_until(first + window) if first + window < after else []
    if len(documents) < limit:
        documents = first_until(after)
    return list(
        session.scalars(
            sa.select(LedgerExchange).where(LedgerExchange.document.in_(documents)).order_by(*order)
        )
    )


def _listed_by_agency(session: Session, codes: list[str], query: EShareQuery) -> dict[str, int]:
    """How many exchanges the listing has per sending agency, from the counters (an
    exchange with a reason is not fully electronic): the agencies with none are left
    out of the page's search, and the sum is the listing's total."""
    if query.reason is not None:
        if query.fully_electronic:
            return {}
        column = reason_column(Reason(query.reason))
        sums = counter_sums_by_agency(session, codes, query.start, query.end, (column,))
        return {agency: s[column] for agency, s in sums.items() if s[column]}
    sums = counter_sums_by_agency(
        session, codes, query.start, query.end, ("exchanges", "fully_electronic")
    )
    listed = {
        agency: {
            None: s["exchanges"],
            True: s["fully_electronic"],
            False: s["exchanges"] - s["fully_electronic"],
        }[query.fully_electronic]
        for agency, s in sums.items()
    }
    return {agency: n for agency, n in listed.items() if n}


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
        listed = _listed_by_agency(session, codes, query)
        total = sum(listed.values())
        since = None
        if after:
            since, document = _parse_cursor(after)
            # A row comparison: the index's range begins at the cursor.
            where.append(
                sa.tuple_(LedgerExchange.sent_at, LedgerExchange.document)
                > sa.tuple_(sa.literal(since, LedgerExchange.sent_at.type), sa.literal(document))
            )
        page = _exchanges_page(session, listed, query.start, query.end, where, limit + 1, since)
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
    caps: list[int] | None = None,
) -> list[str]:
    """PostgreSQL: each agency's first ``limit`` rows (``of_agency``: the id, then the
    columns it is ordered by, from an index in that order), then the ids of the first
    ``limit`` of those. ``caps``: how many rows each agency has at most (from the
    counters), so that its search stops at its last one instead of the period's end."""
    arrays = [sa.literal(codes, postgresql.ARRAY(sa.String))]
    if caps is not None:
        arrays.append(sa.literal(caps, postgresql.ARRAY(sa.Integer)))
    scope = (
        sa.func.unnest(*arrays)
        .table_valued("code", *(["cap"] if caps is not None else []))
        .render_derived(name="scope")
    )
    per_agency: int | sa.ColumnElement[int] = limit
    if caps is not None:
        per_agency = sa.func.least(limit, scope.c.cap)
    first = of_agency(scope.c.code).limit(per_agency).lateral("first")
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
