"""The overdue list against its definition, on many deliveries: work addressed to the
agencies in scope, due on a Vietnam day of the period, open (not completed, rejected
or taken back) and past its due time, most overdue first (ties by delivery id).

Shared by the SQLite test (one query over the open-work index) and the PostgreSQL
one (each agency's first page from the index, then the first of those)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from services.common.contract import Status
from services.common.internal_api import EShareQuery
from services.routing.ledger import listings, queries
from services.routing.ledger.rules import DueState, vietnam_day
from services.routing.ledger.scope import agencies_in_scope
from services.routing.models import LedgerDelivery
from tests.unit.routing.ledger_world import (
    AGENCIES,
    COMMUNE_A,
    DEPT_A,
    MINISTRY,
    PROV_A,
    PROV_B,
    World,
    vn,
)

NOW = vn("2026-05-20 10:30")
MID_APRIL = vn("2026-04-15 13:05")
CODES = [code for code, _, _ in AGENCIES]


def build(w: World, seed: int = 7) -> None:
    """Sixty exchanges to three recipients each, due from March to June (some on the
    day of ``NOW``, some later); a share completed, rejected or taken back; then the
    due times spread over the day (whole seconds, many alike; some at Vietnam midnight
    exactly), as a recipient's deadline may fall at any time."""
    rnd = random.Random(seed)
    for i in range(60):
        sender = CODES[i % len(CODES)]
        recipients = rnd.sample([c for c in CODES if c != sender], 3)
        sent = vn("2026-03-01 08:00") + timedelta(days=i, minutes=i)
        due = date(2026, 3, 1) + timedelta(days=i + rnd.randrange(0, 20))
        name = f"X{i:02d}"
        w.send(name, sender, recipients, at=sent, due=due)
        w.verdict(name, signed=True)
        for recipient in recipients:
            w.arrive(name, recipient, sent + timedelta(minutes=5))
            fate = rnd.randrange(10)
            if fate == 0:
                w.report(name, recipient, Status.REJECTED, sent + timedelta(hours=1))
            elif fate <= 3:
                w.report(name, recipient, Status.REGISTERED, sent + timedelta(hours=1))
                w.report(name, recipient, Status.COMPLETED, sent + timedelta(days=2))
        if i % 17 == 5:
            w.take_back(name, sender, sent + timedelta(minutes=10))
    with w.db.unit_of_work() as session:
        rows = session.scalars(
            sa.select(LedgerDelivery)
            .where(LedgerDelivery.due_at.is_not(None))
            .order_by(LedgerDelivery.delivery_id)
        ).all()
        for n, row in enumerate(rows):
            assert row.due_day is not None
            midnight = vn(f"{row.due_day.isoformat()} 00:00")
            shift = timedelta(0) if n % 5 == 0 else timedelta(seconds=rnd.randrange(0, 86400, 600))
            row.due_at = midnight + shift
            row.due_day = vietnam_day(row.due_at)


def expected(w: World, query: EShareQuery, limit: int, now: datetime) -> list[str]:
    """The definition, in Python over every ledger row."""
    with w.db.reading() as session:
        scope = set(
            agencies_in_scope(
                session, query.viewer, query.agency, include_children=query.include_children
            )
        )
        rows = session.scalars(sa.select(LedgerDelivery)).all()
    chosen = [
        r
        for r in rows
        if r.recipient_code in scope
        and r.due_state == DueState.OPEN.value
        and r.due_at is not None
        and r.due_day is not None
        and query.start <= r.due_day <= query.end
        and r.due_at < now
    ]
    chosen.sort(key=lambda r: (r.due_at, r.delivery_id))
    return [r.delivery_id for r in chosen[:limit]]


def expected_figure(w: World, query: EShareQuery, now: datetime) -> int:
    """The ``overdue`` figure by its definition: open work due in the period on a
    Vietnam day before today's."""
    today = vietnam_day(now)
    with w.db.reading() as session:
        scope = set(
            agencies_in_scope(
                session, query.viewer, query.agency, include_children=query.include_children
            )
        )
        rows = session.scalars(sa.select(LedgerDelivery)).all()
    return sum(
        1
        for r in rows
        if r.recipient_code in scope
        and r.due_state == DueState.OPEN.value
        and r.due_day is not None
        and query.start <= r.due_day <= query.end
        and r.due_day < today
    )


def listed(w: World, query: EShareQuery, limit: int, now: datetime) -> dict[str, Any]:
    return dict(listings.overdue(w.db, query, limit=limit, now=now))


def cases() -> list[tuple[EShareQuery, int, datetime]]:
    periods = [
        (date(2026, 3, 1), date(2026, 6, 30)),
        (date(2026, 4, 1), date(2026, 4, 30)),
        (date(2026, 5, 20), date(2026, 5, 20)),  # today: only what is past due by now
        (date(2026, 3, 10), date(2026, 3, 10)),
        (date(2026, 4, 15), date(2026, 4, 15)),  # today, for the middle of April
    ]
    out = []
    for start, end in periods:
        for viewer, agency, children in (
            (PROV_A, PROV_A, True),
            (PROV_A, PROV_A, False),
            (PROV_A, DEPT_A, True),
            (PROV_B, PROV_B, True),
            (MINISTRY, MINISTRY, False),
            (COMMUNE_A, COMMUNE_A, True),
        ):
            query = EShareQuery(viewer, agency, start, end, include_children=children)
            for limit in (1, 3, 20, 1000):
                # Mid-April: part of the day's work is past due, part not yet.
                for now in (NOW, vn("2026-04-01 00:00"), MID_APRIL, vn("2026-12-31 23:00")):
                    out.append((query, limit, now))
    return out


def check_every_case(w: World) -> int:
    """Every case listed as defined; the count (when asked) is every one of them.
    The number of deliveries listed over all cases back (the cases are not empty)."""
    seen = 0
    for query, limit, now in cases():
        answer = listed(w, query, limit, now)
        ids = [row["delivery_id"] for row in answer["overdue"]]
        assert ids == expected(w, query, limit, now), (query, limit, now)
        assert answer["total"] == len(expected(w, query, 10**6, now)), (query, now)
        if limit == 1000:
            # The figure, from the counters: whole months (today's too) from the
            # monthly ones, the days before today of today's month for their open work.
            figure = expected_figure(w, query, now)
            assert queries.e_share(w.db, query, now=now)["totals"]["overdue"] == figure
            by_month = queries.e_share(w.db, replace(query, group_by="month"), now=now)
            assert sum(r["overdue"] for r in by_month["rows"]) == figure, (query, now)
        uncounted = listings.overdue(w.db, query, limit=limit, now=now, count=False)
        assert uncounted["total"] is None
        assert uncounted["overdue"] == answer["overdue"]
        seen += len(ids)
    return seen
