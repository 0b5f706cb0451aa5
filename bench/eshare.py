"""The e-share bench (issue 13): the ledger at scale on PostgreSQL.

N synthetic exchanges × 3 deliveries over two years across 200 agencies (or 3,520)
(``bench.eshare_data``), then:

- the full rebuild of the ledger from the raw tables (``lienthong ledger rebuild``);
- the metrics queries (``services.routing.ledger.queries``, as routing's internal
  API runs them), p50/p95 over repeated runs, and beside each the naive query: one
  GROUP BY over the raw exchanges, deliveries and verdicts giving the same share;
- the incremental feed on top of the full ledger: new exchanges routed, then each
  delivery's 01, 03 and 06, in consumer-sized transactions (deliveries per second).
"""

from __future__ import annotations

import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bench import eshare_web
from bench.eshare_data import BENCH, Layout, agencies
from bench.eshare_db import routing_database
from bench.measure import Summary
from services.common.contract import Status
from services.common.db import Database
from services.common.internal_api import EShareQuery
from services.routing.ledger import feed, listings, queries
from services.routing.models import Delivery, Exchange
from testkit.infra import postgres_databases

TITLE = "E-document share: the exchange ledger at scale (issue 13)"
COUNTRY_TITLE = "E-document share at the size of the country's registry (issue 13)"


def heading(layout: Layout) -> str:
    """The section's heading: §9 for the issue's 200 agencies, §10 for the country's."""
    return f"## 9. {TITLE}" if layout == BENCH else f"## 10. {COUNTRY_TITLE}"


NATIONAL, PROVINCE, MINISTRY = "000.00.00.G00", "000.00.00.H41", "000.00.00.G01"
AS_OF = datetime(2027, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class EShareOptions:
    exchanges: int = 1_000_000
    runs: int = 40  # per query
    feed_exchanges: int = 1000  # new exchanges (× 3 deliveries) fed incrementally, per run
    batches: tuple[int, ...] = (50, 200)  # messages per transaction (routing's consumer: 50)
    page_requests: int = 30  # timed GETs per dashboard page (after 3 warm-ups); 0: none
    # Keep the generated and rebuilt database as a PostgreSQL template and start each
    # run from a copy of it (the generation and the rebuild then run once).
    keep_template: bool = False
    layout: Layout = BENCH  # the registry: the 200 agencies, or the country's


@dataclass
class QueryTiming:
    name: str
    ledger: list[float]
    naive: list[float] | None = None
    rows: int = 0


@dataclass(frozen=True)
class FeedRun:
    batch: int
    deliveries: int
    events: int
    seconds: float
    rounds: tuple[float, ...] = ()  # deliveries/s of every measured round (this is the median)

    @property
    def deliveries_per_second(self) -> float:
        return self.deliveries / self.seconds if self.seconds else 0.0


@dataclass
class EShareResults:
    options: EShareOptions
    counts: dict[str, int] = field(default_factory=dict)
    generate_seconds: float = 0.0
    rebuild_seconds: float = 0.0
    rebuilt: dict[str, int] = field(default_factory=dict)
    queries: list[QueryTiming] = field(default_factory=list)
    feeds: list[FeedRun] = field(default_factory=list)
    dashboard: eshare_web.DashboardResults | None = None
    failures: list[str] = field(default_factory=list)


def _timed(action: Callable[[], object], runs: int) -> list[float]:
    action()  # warm the caches once, unmeasured
    out = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        out.append(time.perf_counter() - began)
    return out


# The naive figures: one GROUP BY over the raw tables per question asked.
_NAIVE = """
SELECT {group} COUNT(*) AS exchanges, SUM(CASE WHEN fully THEN 1 ELSE 0 END) AS fully
FROM (
    SELECT e.document, e.sender_code, e.received_at,
           bool_and(d.status IN ('03', '04', '05', '06'))
             AND bool_and(COALESCE(v.organization_signed, false))
             AND bool_and(NOT COALESCE(v.scanned, true))
             AND bool_and(e.paper = 0) AS fully
    FROM exchanges e
    JOIN deliveries d ON d.document = e.document
    LEFT JOIN signature_verdicts v ON v.document = e.document
    WHERE e.sender_code = ANY(:codes) AND e.received_at >= :start AND e.received_at < :end
    GROUP BY e.document, e.sender_code, e.received_at
) AS per_exchange
{group_by}
"""


def _naive(db: Database, codes: list[str], start: date, end: date, group: str | None) -> int:
    select, group_by = "", ""
    if group == "month":
        select = "date_trunc('month', received_at AT TIME ZONE 'Asia/Ho_Chi_Minh') AS g,"
        group_by = "GROUP BY g"
    elif group == "agency":
        select, group_by = "sender_code AS g,", "GROUP BY g"
    sql = sa.text(_NAIVE.format(group=select, group_by=group_by))
    begin = datetime.combine(start, datetime.min.time()) - timedelta(hours=7)
    finish = datetime.combine(end + timedelta(days=1), datetime.min.time()) - timedelta(hours=7)
    with db.reading() as session:
        rows = session.execute(
            sql,
            {"codes": codes, "start": begin.replace(tzinfo=UTC), "end": finish.replace(tzinfo=UTC)},
        ).all()
    return len(rows)


def _queries(db: Database, res: EShareResults) -> None:
    runs, layout = res.options.runs, res.options.layout
    below_province = layout.departments + layout.communes
    below_national = layout.size - 1
    q3 = (date(2026, 4, 1), date(2026, 6, 30))
    two_years = (date(2025, 1, 1), date(2026, 12, 31))
    year = (date(2026, 1, 1), date(2026, 12, 31))
    province = EShareQuery(PROVINCE, PROVINCE, *q3, include_children=True)
    asked = [
        (f"province + {below_province} below, one quarter, totals", province, None),
        (
            f"province + {below_province} below, two years, per month",
            replace(province, start=two_years[0], end=two_years[1], group_by="month"),
            "month",
        ),
        (
            "a ministry alone, one year, per quarter",
            EShareQuery(MINISTRY, MINISTRY, *year, group_by="quarter"),
            None,
        ),
        (
            f"national office + all {below_national} below, two years, per agency",
            EShareQuery(NATIONAL, NATIONAL, *two_years, group_by="agency", include_children=True),
            "agency",
        ),
    ]
    codes_of = {}
    with db.reading() as session:
        from services.routing.ledger.scope import agencies_in_scope

        for _, query, _ in asked:
            codes_of[query] = agencies_in_scope(
                session, query.viewer, query.agency, include_children=query.include_children
            )
    for name, query, group in asked:
        print(f"  … {name}", flush=True)
        answer = queries.e_share(db, query, now=AS_OF)
        timing = QueryTiming(name, _timed(partial(queries.e_share, db, query, now=AS_OF), runs))
        timing.rows = answer["totals"]["exchanges"]
        naive_runs = max(3, runs // 8)
        naive = partial(_naive, db, codes_of[query], query.start, query.end, group)
        timing.naive = _timed(naive, naive_runs)
        res.queries.append(timing)
    national = EShareQuery(NATIONAL, NATIONAL, *two_years, include_children=True)
    for who, query in (
        (f"province + {below_province} below, one quarter", province),
        (f"national office + {below_national} below, two years", national),
    ):
        not_fully = replace(query, fully_electronic=False)
        pages: list[tuple[str, Callable[[], Any]]] = [
            (
                f"exchanges behind a figure: {who}, not fully electronic, first page of 100",
                partial(listings.exchanges, db, not_fully, limit=100),
            ),
            *(
                (
                    f"exchanges behind a figure: {who}, reason {reason}, first page of 100",
                    partial(listings.exchanges, db, replace(query, reason=reason), limit=100),
                )
                for reason in ("not_registered", "rejected")
            ),
            (
                f"overdue work: {who}, first 100",
                partial(listings.overdue, db, query, limit=100, now=AS_OF),
            ),
        ]
        for name, ask in pages:
            timing = QueryTiming(name, _timed(ask, runs))
            timing.rows = ask()["total"] or 0
            res.queries.append(timing)


def _route(session: Session, *, exchange: Exchange, deliveries: list[Delivery]) -> None:
    feed.exchange_routed(session, exchange, deliveries, organization_signed=True, scanned=False)


def _status(session: Session, *, delivery: Delivery, code: Status, at: datetime) -> None:
    feed.status_recorded(session, delivery, code, at)


def _feed(db: Database, n: int, batch: int, layout: Layout = BENCH) -> FeedRun:
    """New exchanges through the ledger's hooks: routed, then 01, 03, 06 per delivery,
    ``batch`` messages per transaction (as routing's consumer commits them)."""
    codes = [a.code for a in agencies(layout)]
    sent = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    exchanges: list[tuple[Exchange, list[Delivery]]] = []
    for i in range(n):
        document = str(uuid.uuid4())
        exchange = Exchange(
            document=document,
            document_id=f"feed-{i}",
            sender_code=codes[i % len(codes)],
            subject=f"Văn bản mới {i}",
            paper=0,
            received_at=sent + timedelta(seconds=i),
        )
        deliveries = [
            Delivery(
                id=str(uuid.uuid4()),
                document=document,
                recipient_code=codes[(i + 1 + 67 * k) % len(codes)],
                due_at=sent + timedelta(days=10),
            )
            for k in range(3)
        ]
        exchanges.append((exchange, deliveries))
    steps: list[tuple[str | None, Callable[[Session], None]]] = []
    for exchange, deliveries in exchanges:
        steps.append((None, partial(_route, exchange=exchange, deliveries=deliveries)))
    for offset, code in (
        (60, Status.ARRIVED),
        (3600, Status.REGISTERED),
        (86400, Status.COMPLETED),
    ):
        for exchange, deliveries in exchanges:
            for delivery in deliveries:
                at = exchange.received_at + timedelta(seconds=offset)
                steps.append((delivery.id, partial(_status, delivery=delivery, code=code, at=at)))
    began = time.perf_counter()
    for i in range(0, len(steps), batch):
        with db.unit_of_work() as session:
            # What routing's consumer does before a batch (consumers.lock_for_batch).
            named = [key for key, _ in steps[i : i + batch] if key is not None]
            feed.preload(session, delivery_ids=named)
            for _, step in steps[i : i + batch]:
                step(session)
    return FeedRun(batch, 3 * n, len(steps), time.perf_counter() - began)


def _dashboard(work: Path, urls: dict[str, str], res: EShareResults) -> None:
    print("  … the monitors' dashboard pages through web, ingest and routing", flush=True)
    try:
        res.dashboard = eshare_web.run_dashboard(
            work / "dashboard",
            urls["routing"],
            urls["ingest"],
            PROVINCE,
            NATIONAL,
            requests=res.options.page_requests,
            layout=res.options.layout,
        )
    except Exception as e:
        traceback.print_exc()
        res.failures.append(f"dashboard pages: {type(e).__name__}: {e}")


def run_eshare(options: EShareOptions, work: Path) -> EShareResults:
    res = EShareResults(options)
    with routing_database(res) as url, postgres_databases(("ingest",)) as ingest:
        db = Database(url)
        try:
            _queries(db, res)
            if options.page_requests:
                _dashboard(work, {"routing": url, "ingest": ingest["ingest"]}, res)
            for batch in options.batches:
                print(f"  … incremental feed, {batch} messages per transaction", flush=True)
                # A running consumer is warm: its statements prepared, the indexes' upper
                # pages in memory. One unmeasured round, then three measured ones.
                _feed(db, max(options.feed_exchanges // 5, 50), batch, options.layout)
                runs = sorted(
                    (_feed(db, options.feed_exchanges, batch, options.layout) for _ in range(3)),
                    key=lambda r: r.deliveries_per_second,
                )
                res.feeds.append(
                    replace(runs[1], rounds=tuple(r.deliveries_per_second for r in runs))
                )
        finally:
            db.dispose()
    return res


# --- the section of bench/RESULTS.md ---------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def section(res: EShareResults) -> list[str]:
    o = res.options
    lines = [
        heading(o.layout),
        "",
        f"PostgreSQL (the machine's, default settings), one fresh database. Synthetic data "
        f"generated inside PostgreSQL with `generate_series` (`bench/eshare_data.py`): "
        f"{res.counts.get('exchanges', 0):,} exchanges × 3 deliveries evenly over two years "
        f"(2025–2026, Vietnam days) across {o.layout.describe()}; "
        f"{res.counts.get('status_events', 0):,} status events, "
        f"{res.counts.get('signature_verdicts', 0):,} verdicts; generated in "
        f"{res.generate_seconds:.0f} s."
        + (
            " This run worked on a copy of that database as an earlier run generated and "
            "rebuilt it (`--eshare-keep`): the generation and rebuild times below are that "
            "run's."
            if o.keep_template
            else ""
        ),
        "",
        f"**Full rebuild** (`lienthong ledger rebuild`: every exchange's facts from the raw "
        f"tables through the same rules as the incremental feed, then the counters summed in "
        f"SQL): **{res.rebuild_seconds:.0f} s** for "
        + ", ".join(f"{v:,} {k}" for k, v in res.rebuilt.items())
        + ".",
        "",
        f"**Metrics queries** (`services.routing.ledger.queries`, what routing's internal API "
        f"runs, in process: scope from the registry's parent links, sums of the monthly "
        f"counters for whole months and the daily ones around them, latency as bucket "
        f"counts; after `VACUUM ANALYZE`), {o.runs} runs each after one warm-up; beside each, "
        "the naive query for the same figure: one GROUP BY over the raw exchanges × "
        "deliveries × verdicts (fewer runs). Target p95 < 100 ms.",
        "",
        "| query | exchanges counted | ledger p50 ms | ledger p95 ms | naive p50 ms | "
        "naive p95 ms | naive ÷ ledger (p50) |",
        "|---|---|---|---|---|---|---|",
    ]
    for q in res.queries:
        s = Summary.of(q.ledger)
        if q.naive:
            n = Summary.of(q.naive)
            naive = f"{_ms(n.p50)} | {_ms(n.p95)} | {n.p50 / s.p50:,.0f}×"
        else:
            naive = "— | — | —"
        lines.append(f"| {q.name} | {q.rows:,} | {_ms(s.p50)} | {_ms(s.p95)} | {naive} |")
    lines.append("")
    if res.dashboard is not None:
        lines += eshare_web.section(res.dashboard)
    lines += [
        f"**Incremental feed** on top of the full ledger: per run {o.feed_exchanges:,} new "
        "exchanges × 3 deliveries through the ledger's hooks (`feed.exchange_routed`, then "
        "each delivery's 01, 03 and 06 through `feed.status_recorded`), a given number of "
        "messages per transaction as a consumer batch commits them (the batch's rows read "
        "up front as `consumers.lock_for_batch` does; routing's consumer takes batches of "
        "50). A delivery's whole life is 4 events (its share of the routing, 01, 03, 06). "
        "Target ≥ 1,000 deliveries/s. This is the ledger's share of routing's work only "
        "(the audit chain, the outbox and the lifecycle are measured in section 5). Each batch "
        "size: one unmeasured warm-up round, then three measured rounds of new exchanges; the "
        "table gives the median round, the last column every round.",
        "",
        "| messages per transaction | events | seconds | events/s | deliveries/s | every round |",
        "|---|---|---|---|---|---|",
    ]
    for run in res.feeds:
        lines.append(
            f"| {run.batch} | {run.events:,} | {run.seconds:.1f} | "
            f"{run.events / run.seconds:,.0f} | **{run.deliveries_per_second:,.0f}** | "
            + ", ".join(f"{x:,.0f}" for x in run.rounds)
            + " |"
        )
    lines.append("")
    if res.failures:
        lines += ["Failures: " + "; ".join(res.failures), ""]
    return lines


def summary(res: EShareResults) -> list[str]:
    out = [f"  e-share: rebuild {res.rebuild_seconds:.0f} s ({res.rebuilt})"]
    for q in res.queries:
        s = Summary.of(q.ledger)
        out.append(f"    {q.name}: p50 {_ms(s.p50)} ms, p95 {_ms(s.p95)} ms")
    if res.dashboard is not None:
        out.extend(eshare_web.summary(res.dashboard))
    for run in res.feeds:
        out.append(f"    feed, batch {run.batch}: {run.deliveries_per_second:,.0f} deliveries/s")
    return out
