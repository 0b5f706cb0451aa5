"""The monitors' dashboard pages over the e-share bench's synthetic data (issue 13:
"every dashboard page answers at p95 < 300 ms").

Once the synthetic exchanges and the rebuilt ledger are in routing's PostgreSQL
database, the services a dashboard page goes through run as ``lienthong serve``
processes: routing (on that database), ingest (its own PostgreSQL database, the bench's
synthetic agencies registered with their parent links through ingest's registry
code) and web (its users in SQLite). A province monitor and the national office's
monitor log in; each page is timed as a client sees it: the HTTP round trip on
loopback, one request at a time, after a few unmeasured warm-ups.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

import requests

from bench.eshare_data import BENCH, Layout, agencies
from bench.measure import Summary
from services.common.db import Database
from services.ingest.agencies import add_agency
from testkit.stack import Stack
from testkit.webclient import Person

TARGET_MS = 300.0
SERVICE_TOKEN = "bench-service-token-0123456789"
QUARTER = "from=2026-04-01&to=2026-06-30&group_by=month"
TWO_YEARS = "from=2025-01-01&to=2026-12-31&group_by=month"


@dataclass(frozen=True)
class Page:
    name: str
    who: str  # "province" | "national"
    path: str


@dataclass
class DashboardResults:
    warmups: int
    requests: int
    pages: list[tuple[Page, Summary, int]] = field(default_factory=list)  # + response bytes
    # Per /monitor page: each call behind it, timed at ingest and at routing directly.
    calls: list[tuple[Page, list[Call]]] = field(default_factory=list)
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Call:
    what: str  # the call web makes to ingest for the page
    ingest: Summary  # web's call as ingest answers it (and routing behind it)
    routing: Summary  # ingest's call as routing answers it


def pages(province: str, national: str, layout: Layout = BENCH) -> list[Page]:
    province_and = f"province + {layout.departments + layout.communes} below"
    national_and = f"national office + {layout.size - 1} below"
    return [
        Page(f"dashboard, {province_and}, one quarter by month", "province",
             f"/monitor?agency={province}&{QUARTER}"),
        Page(f"dashboard, {province_and}, two years by month", "province",
             f"/monitor?agency={province}&{TWO_YEARS}"),
        Page(f"dashboard, {national_and}, one quarter by month", "national",
             f"/monitor?agency={national}&{QUARTER}"),
        Page(f"dashboard, {national_and}, two years by month", "national",
             f"/monitor?agency={national}&{TWO_YEARS}"),
        Page("dashboard, national office, ranking of level 1 (ministries, provinces)",
             "national", f"/monitor?agency={national}&{QUARTER}&level=1"),
        Page("exchanges behind a figure, province, one quarter, not fully electronic",
             "province", f"/monitor/exchanges?agency={province}&{QUARTER}"
             "&fully_electronic=false"),
        Page("CSV export of the figures, national office, two years by month", "national",
             f"/monitor/download/figures.csv?agency={national}&{TWO_YEARS}"),
    ]  # fmt: skip


def _otp(text: str) -> str:
    found = re.search(r"one-time password: (\S+)", text)
    assert found, text
    return found.group(1)


def _timed(person: Person, path: str, warmups: int, n: int) -> tuple[Summary, int]:
    for _ in range(warmups):
        answer = person.http.get(person.base + path, timeout=120)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:500])
    times = []
    size = 0
    for _ in range(n):
        began = time.perf_counter()
        answer = person.http.get(person.base + path, timeout=120)
        times.append((time.perf_counter() - began) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
        size = len(answer.content)
    return Summary.of(times), size


def _get_ms(http: requests.Session, url: str, params: dict[str, str], **kw: object) -> float:
    began = time.perf_counter()
    answer = http.get(url, params=params, timeout=120, **kw)  # type: ignore[arg-type]
    elapsed = (time.perf_counter() - began) * 1000
    assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
    return elapsed


def _calls(stack: Stack, viewer: str, page: Page, warmups: int, n: int) -> list[Call]:
    """The three calls ``GET /monitor`` makes to ingest (figures over time, the ranking's
    first page with the figures per level, overdue work), each timed at ingest with the
    service token (as web makes it) and at routing's internal API (as ingest makes it),
    one at a time."""
    asked = dict(parse_qsl(page.path.split("?", 1)[1]))
    base = {
        "agency": asked["agency"],
        "from": asked["from"],
        "to": asked["to"],
        "include_children": "true",
    }
    made = [
        ("figures over time", "", {**base, "group_by": asked["group_by"]}),
        (
            "ranking and levels",
            "/ranking",
            {
                **base,
                "page": "1",
                "limit": "50",
                **({"level": asked["level"]} if "level" in asked else {}),
            },
        ),
        # As the page asks it: its first 20, without the count (the page's figure
        # comes from the counters).
        ("overdue work", "/overdue", {**base, "limit": "20", "count": "false"}),
    ]
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {SERVICE_TOKEN}"
    out = []
    for what, path, params in made:
        ingest_url = f"{stack.url('ingest')}/v1/metrics/e-share{path}"
        routing_url = f"{stack.url('routing')}/internal/v1/metrics/e-share{path}"
        acting = {"X-Acting-Agency": viewer}
        at_routing = {**params, "viewer": viewer}
        for _ in range(warmups):
            _get_ms(http, ingest_url, params, headers=acting)
            _get_ms(http, routing_url, at_routing)
        ingest = [_get_ms(http, ingest_url, params, headers=acting) for _ in range(n)]
        routing = [_get_ms(http, routing_url, at_routing) for _ in range(n)]
        out.append(Call(what, Summary.of(ingest), Summary.of(routing)))
    return out


def register_agencies(ingest_url: str, layout: Layout = BENCH) -> None:
    """The synthetic registry in ingest, parents first (as ``lienthong agencies add``)."""
    db = Database(ingest_url)
    try:
        for a in agencies(layout):
            add_agency(db, a.code, a.name, parent=a.parent)
    finally:
        db.dispose()


def run_dashboard(
    work: Path,
    routing_url: str,
    ingest_url: str,
    province: str,
    national: str,
    *,
    warmups: int = 3,
    requests: int = 30,
    layout: Layout = BENCH,
) -> DashboardResults:
    res = DashboardResults(warmups, requests)
    work.mkdir(parents=True, exist_ok=True)
    stack = Stack(
        work,
        {
            "LIENTHONG_ROUTING_DATABASE_URL": routing_url,
            "LIENTHONG_INGEST_DATABASE_URL": ingest_url,
            "LIENTHONG_SERVICE_TOKEN": SERVICE_TOKEN,
            "LIENTHONG_WEB_SECURE_COOKIES": "never",
        },
    )
    stack.cli("migrate")
    register_agencies(ingest_url, layout)
    emails = {"province": "gs-tinh@bench.vn", "national": "gs-vpcp@bench.vn"}
    otps = {
        who: _otp(
            stack.cli(
                "users", "add", emails[who], "--agency", code, "--role", "monitor",
                "--name", f"Giám sát {code}",
            ).stdout
        )
        for who, code in (("province", province), ("national", national))
    }  # fmt: skip
    for service in ("routing", "ingest", "web"):
        stack.serve(service)
    try:
        stack.wait_healthy(("routing", "ingest", "web"))
        people = {who: Person(stack.url("web")) for who in emails}
        for who, person in people.items():
            person.first_login(emails[who], otps[who])
        res.load_before = os.getloadavg()
        for page in pages(province, national, layout):
            print(f"  … {page.name}", flush=True)
            summary, size = _timed(people[page.who], page.path, warmups, requests)
            res.pages.append((page, summary, size))
            print(f"    p50 {summary.p50:.1f} ms, p95 {summary.p95:.1f} ms", flush=True)
            if page.path.startswith("/monitor?") and "level=" not in page.path:
                # Right after the page, under the same load.
                viewer = province if page.who == "province" else national
                res.calls.append((page, _calls(stack, viewer, page, warmups, requests)))
        res.load_after = os.getloadavg()
    except Exception:
        for service in ("web", "ingest", "routing"):
            print(f"--- {service} log tail ---\n{stack.log_tail(service, 1500)}", flush=True)
        raise
    finally:
        stack.stop_all()
    return res


# --- the subsection of bench/RESULTS.md -----------------------------------------------


def section(r: DashboardResults) -> list[str]:
    worst = max((s.p95 for _, s, _ in r.pages), default=0.0)
    missed = [p.name for p, s, _ in r.pages if s.p95 >= TARGET_MS]
    load = " / ".join(" ".join(f"{x:.2f}" for x in avg) for avg in (r.load_before, r.load_after))
    lines = [
        f"**Dashboard pages** (target p95 < {TARGET_MS:.0f} ms): routing (on the database "
        "above, after the queries), ingest (its own PostgreSQL database, the bench's agencies "
        "registered with their parent links) and web as `lienthong serve` processes, on the "
        "embedded bus; a province monitor (UBND tỉnh số 1) and the national office's "
        f"monitor logged in. Each page: {r.warmups} unmeasured warm-ups, then "
        f"{r.requests} GETs one at a time from a client on the same host; the HTTP round "
        "trip, ms (web → ingest → routing, all included). Load average (1/5/15 min) before "
        f"/ after the pages: {load}.",
        "",
        "| page | monitor | bytes | p50 ms | p95 ms | max ms | p95 < 300 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for page, s, size in r.pages:
        ok = "yes" if s.p95 < TARGET_MS else "**no**"
        lines.append(
            f"| {page.name} (`{page.path.split('?')[0]}`) | {page.who} | {size:,} | "
            f"{s.p50:.1f} | {s.p95:.1f} | {s.max:.1f} | {ok} |"
        )
    verdict = "every page meets the target" if not missed else "missed by: " + "; ".join(missed)
    lines += ["", f"Worst p95: **{worst:.1f} ms**; {verdict}.", ""]
    if r.calls:
        lines += _calls_table(r)
    if r.failures:
        lines += ["Dashboard failures: " + "; ".join(r.failures), ""]
    return lines


def _calls_table(r: DashboardResults) -> list[str]:
    page_p50 = {p.path: s.p50 for p, s, _ in r.pages}
    lines = [
        "Where a dashboard page's time goes: right after each page, the three calls "
        "`GET /monitor` makes to ingest (the figures over time, the ranking's page and the levels, "
        "the overdue work; the first in the request's thread, the other two at the same "
        "time in two more), each timed on its own as web makes it to ingest (service "
        "token, acting agency) and as ingest makes it to routing's internal API, "
        f"{r.requests} times each after {r.warmups} warm-ups. "
        "p50 / p95 ms.",
        "",
        "| page | call | at ingest | at routing |",
        "|---|---|---|---|",
    ]
    shares = []
    for page, calls in r.calls:
        for c in calls:
            lines.append(
                f"| {page.name} | {c.what} | {c.ingest.p50:.1f} / {c.ingest.p95:.1f} | "
                f"{c.routing.p50:.1f} / {c.routing.p95:.1f} |"
            )
        at_ingest = sum(c.ingest.p50 for c in calls)
        longest = max(c.ingest.p50 for c in calls)
        at_routing = sum(c.routing.p50 for c in calls)
        whole = page_p50[page.path]
        shares.append(
            f"- {page.name}: page p50 {whole:.0f} ms; its calls at ingest {at_ingest:.0f} ms "
            f"one after the other (the longest {longest:.0f} ms), of which routing "
            f"{at_routing:.0f} ms (HTTP, scope, queries, JSON) and ingest "
            f"{at_ingest - at_routing:.0f} ms; "
            + (
                f"web's own work (session, registry, the page's HTML) between "
                f"{max(whole - at_ingest, 0):.0f} and {whole - longest:.0f} ms"
                if whole > longest
                else "web's own work not separable here (the longest call, timed on its "
                "own, took longer than the whole page: the load on the machine varies)"
            )
        )
    return [
        *lines,
        "",
        "From the p50s (the calls overlap, hence a range for web):",
        "",
        *shares,
        "",
    ]


def summary(r: DashboardResults) -> list[str]:
    return [f"    {p.name}: p50 {s.p50:.1f} ms, p95 {s.p95:.1f} ms" for p, s, _ in r.pages]
