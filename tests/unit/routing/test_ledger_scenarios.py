"""The e-share figures on hand-computed scenarios (``ledger_world.build_scenarios``):
signed and unsigned, scanned and born digital, with and without paper, registered
and never registered, late and on time, taken back, verdict missing, parent and
child agencies, a sibling province, and two exchanges one second apart across
Vietnam midnight. Each figure and each exchange's reasons are exact."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from services.common.db import alembic_config
from services.common.errors import Forbidden
from services.common.internal_api import EShareQuery
from services.common.wiring import migrations_of
from services.routing.ledger import listings, queries
from services.routing.ledger.rebuild import rebuild
from services.routing.ledger.rules import Reason
from services.routing.models import (
    LedgerDaily,
    LedgerDelivery,
    LedgerExchange,
    LedgerLatency,
    LedgerLatencyMonthly,
    LedgerMonthly,
)
from tests.unit.routing.ledger_world import (
    COMMUNE_A,
    DEPT_A,
    MINISTRY,
    PROV_A,
    PROV_B,
    World,
    build_scenarios,
    vn,
    world,  # noqa: F401  (the fixture)
)

Q1 = (date(2026, 1, 1), date(2026, 3, 31))
Q2 = (date(2026, 4, 1), date(2026, 6, 30))
AS_OF = vn("2026-07-01 08:00")


def ask(
    w: World,
    agency: str,
    period: tuple[date, date] = Q2,
    *,
    viewer: str | None = None,
    children: bool = True,
    group_by: str | None = None,
) -> Any:
    query = EShareQuery(
        viewer=viewer or agency,
        agency=agency,
        start=period[0],
        end=period[1],
        group_by=group_by,
        include_children=children,
    )
    return queries.e_share(w.db, query, now=AS_OF)


def reasons(w: World, agency: str, *, fully_electronic: bool | None = None) -> dict[str, list[str]]:
    query = EShareQuery(
        viewer=agency,
        agency=agency,
        start=Q2[0],
        end=Q2[1],
        include_children=True,
        fully_electronic=fully_electronic,
    )
    page = listings.exchanges(w.db, query, limit=100)
    return {e["document"]: [r["code"] for r in e["reasons"]] for e in page["exchanges"]}


@pytest.fixture
def built(world: World) -> World:  # noqa: F811
    build_scenarios(world)
    return world


def test_each_exchange_says_why_it_is_or_is_not_fully_electronic(built: World) -> None:
    assert reasons(built, PROV_A) == {
        "E8": [],
        "E1": [],
        "E2": ["not_signed"],
        "E3": ["scanned"],
        "E4": ["paper"],
        "E5": ["not_registered"],
        "E6": ["taken_back"],
        "E10": ["not_verified"],
    }
    assert list(reasons(built, PROV_A, fully_electronic=False)) == [
        "E2",
        "E3",
        "E4",
        "E5",
        "E6",
        "E10",
    ]
    page = listings.exchanges(
        built.db,
        EShareQuery(PROV_A, PROV_A, *Q2, include_children=True, fully_electronic=False),
        limit=2,
    )
    labels = {e["document"]: e["reasons"] for e in page["exchanges"]}
    assert labels["E2"] == [
        {"code": "not_signed", "label": "Không có chữ ký số hợp lệ của cơ quan ban hành"}
    ]
    assert page["total"] == 6 and page["next"] is not None


def _listed(w: World, query: EShareQuery, limit: int) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        page = listings.exchanges(w.db, query, limit=limit, after=after)
        seen += [e["document"] for e in page["exchanges"]]
        after = page["next"]
        if after is None:
            return seen


def test_the_pages_of_the_listing_follow_each_other(built: World) -> None:
    in_q2 = ["E8", "E1", "E2", "E3", "E4", "E5", "E6", "E10"]
    assert _listed(built, EShareQuery(PROV_A, PROV_A, *Q2, include_children=True), 3) == in_q2
    # Pages of one over two years, where nothing was sent in the first: PostgreSQL
    # first looks where a page would be if the exchanges were spread evenly (here an
    # empty window, so it searches the whole period), then in a window that holds it.
    two_years = (date(2025, 1, 1), date(2026, 12, 31))
    everything = EShareQuery(PROV_A, PROV_A, *two_years, include_children=True)
    whole = _listed(built, everything, 1000)
    assert _listed(built, everything, 1) == whole
    assert _listed(built, everything, 2) == whole
    assert len(whole) == listings.exchanges(built.db, everything, limit=1)["total"] > len(in_q2)


def test_the_listing_total_is_the_number_of_exchanges_listed(built: World) -> None:
    """The total comes from the counters (whole months from the monthly ones); it is
    exactly what the pages list, for any period, filter and scope."""
    periods = [
        Q1,
        Q2,
        (date(2026, 1, 1), date(2026, 12, 31)),
        (date(2026, 4, 15), date(2026, 5, 31)),
        (date(2026, 3, 31), date(2026, 3, 31)),  # either side of Vietnam midnight
        (date(2026, 4, 1), date(2026, 4, 1)),
    ]
    for period in periods:
        for agency, children in ((PROV_A, True), (PROV_A, False), (DEPT_A, True)):
            for fully_electronic, reason in itertools.product(
                (None, True, False), (None, *(r.value for r in Reason))
            ):
                query = EShareQuery(
                    PROV_A,
                    agency,
                    *period,
                    include_children=children,
                    fully_electronic=fully_electronic,
                    reason=reason,
                )
                page = listings.exchanges(built.db, query, limit=1000)
                assert page["next"] is None
                listed = len(page["exchanges"])
                assert page["total"] == listed, (period, agency, fully_electronic, reason)
                if reason is not None:
                    assert all(
                        reason in [r["code"] for r in e["reasons"]] for e in page["exchanges"]
                    )
    assert listings.exchanges(built.db, EShareQuery(PROV_A, PROV_A, *Q2), limit=1)["total"] > 1
    # The scenarios hold several reasons (a filter that matched nothing proves little).
    not_registered = EShareQuery(PROV_A, PROV_A, *Q2, reason="not_registered")
    assert listings.exchanges(built.db, not_registered, limit=1)["total"] >= 1


def test_province_with_the_agencies_below_it_in_the_quarter(built: World) -> None:
    answer = ask(built, PROV_A)
    assert answer["agencies"] == [PROV_A, DEPT_A, COMMUNE_A]
    totals = answer["totals"]
    assert {k: totals[k] for k in ("exchanges", "fully_electronic", "share")} == {
        "exchanges": 8,
        "fully_electronic": 2,
        "share": 0.25,
    }
    assert (totals["signed"], totals["signed_share"], totals["taken_back"]) == (6, 0.75, 1)
    # Work due in the quarter to the three: E1 (commune on time, province late),
    # E5 (department on time, commune never: overdue on 1/7).
    assert (totals["due"], totals["on_time"], totals["late"], totals["overdue"]) == (4, 2, 1, 1)
    assert totals["on_time_share"] == 0.5
    # Ten deliveries arrived 5 minutes after sending; nine were registered, eight an
    # hour after arriving and one (E3) two days after.
    assert totals["latency_sent_to_arrived"] == {"count": 10, "p50": 300, "p90": 300, "p95": 300}
    assert totals["latency_arrived_to_registered"] == {
        "count": 9,
        "p50": 3600,
        "p90": 2 * 86400,
        "p95": 2 * 86400,
    }
    # Why the six others are not fully electronic: one reason each.
    assert {code: n for code, n in totals["reasons"].items() if n} == {
        "not_signed": 1,  # E2
        "scanned": 1,  # E3
        "paper": 1,  # E4
        "not_registered": 1,  # E5
        "taken_back": 1,  # E6
        "not_verified": 1,  # E10
    }
    assert set(totals["reasons"]) == {r.value for r in Reason}


def test_the_province_alone(built: World) -> None:
    totals = ask(built, PROV_A, children=False)["totals"]
    # Sent by the province: E4 (paper), E5 (not registered), E6 (taken back).
    assert (totals["exchanges"], totals["fully_electronic"], totals["share"]) == (3, 0, 0.0)
    # Addressed to it and due in the quarter: E1, completed late.
    assert (totals["due"], totals["on_time"], totals["late"], totals["overdue"]) == (1, 0, 1, 0)
    assert totals["on_time_share"] == 0.0
    assert {code: n for code, n in totals["reasons"].items() if n} == {
        "paper": 1,
        "not_registered": 1,
        "taken_back": 1,
    }


def test_per_month_and_per_agency(built: World) -> None:
    months = {r["group"]: r for r in ask(built, PROV_A, group_by="month")["rows"]}
    assert {g: (r["exchanges"], r["fully_electronic"]) for g, r in months.items()} == {
        "2026-04": (4, 2),
        "2026-05": (3, 0),
        "2026-06": (1, 0),
    }
    assert (months["2026-04"]["due"], months["2026-04"]["late"]) == (2, 1)
    assert (months["2026-05"]["due"], months["2026-05"]["overdue"]) == (2, 1)
    agencies = {r["group"]: r for r in ask(built, PROV_A, group_by="agency")["rows"]}
    assert list(agencies) == [PROV_A, DEPT_A, COMMUNE_A]
    assert agencies[DEPT_A]["name"] == "Sở Nội vụ tỉnh Khánh Hòa"
    assert {g: (r["exchanges"], r["fully_electronic"]) for g, r in agencies.items()} == {
        PROV_A: (3, 0),
        DEPT_A: (3, 2),
        COMMUNE_A: (2, 0),
    }
    quarter = ask(built, PROV_A, (date(2026, 1, 1), date(2026, 6, 30)), group_by="quarter")
    assert [(r["group"], r["exchanges"]) for r in quarter["rows"]] == [
        ("2026-Q1", 1),
        ("2026-Q2", 8),
    ]


def test_vietnam_midnight_splits_the_days(built: World) -> None:
    q1 = ask(built, DEPT_A, Q1)["totals"]
    assert (q1["exchanges"], q1["fully_electronic"]) == (1, 1)  # E7, 23:59:59 on 31/3
    days = ask(built, DEPT_A, (date(2026, 3, 31), date(2026, 4, 1)), group_by="day")["rows"]
    assert [(r["group"], r["exchanges"]) for r in days] == [("2026-03-31", 1), ("2026-04-01", 1)]


def test_a_monitor_sees_its_own_and_below_never_a_sibling_or_a_parent(built: World) -> None:
    assert ask(built, COMMUNE_A, viewer=PROV_A)["totals"]["exchanges"] == 2
    for viewer, agency in (
        (PROV_A, PROV_B),
        (PROV_B, PROV_A),
        (DEPT_A, PROV_A),
        (DEPT_A, COMMUNE_A),
        (PROV_A, MINISTRY),
    ):
        with pytest.raises(Forbidden):
            ask(built, agency, viewer=viewer)
    sibling = ask(built, PROV_B)["totals"]
    assert (sibling["exchanges"], sibling["fully_electronic"]) == (1, 1)


def _ledger(w: World) -> dict[str, Any]:
    def rows(model: Any, key: Any) -> list[tuple[Any, ...]]:
        table = model.__table__
        with w.db.reading() as session:
            found = session.execute(sa.select(table)).all()
        return sorted((tuple(r) for r in found), key=key)

    return {
        "exchanges": rows(LedgerExchange, lambda r: r[0]),
        "deliveries": rows(LedgerDelivery, lambda r: r[0]),
        # Counter rows left at zero by the incremental feed are no figure.
        "daily": [r for r in rows(LedgerDaily, lambda r: r[:2]) if any(r[2:])],
        "monthly": [r for r in rows(LedgerMonthly, lambda r: r[:2]) if any(r[2:])],
        "latency": [r for r in rows(LedgerLatency, lambda r: r[:3]) if any(r[3:])],
        "latency monthly": [r for r in rows(LedgerLatencyMonthly, lambda r: r[:3]) if any(r[3:])],
    }


def test_a_rebuild_gives_the_same_ledger_and_figures(built: World) -> None:
    before = _ledger(built)
    figures = [ask(built, a, p) for a in (PROV_A, PROV_B, DEPT_A) for p in (Q1, Q2)]
    done = rebuild(built.db)
    assert (done.exchanges, done.deliveries) == (10, 12)
    assert _ledger(built) == before
    assert [ask(built, a, p) for a in (PROV_A, PROV_B, DEPT_A) for p in (Q1, Q2)] == figures


def test_upgrading_fills_the_reason_counters_from_the_ledger(built: World) -> None:
    """Migration 0010 adds the counters per reason to a ledger that has rows: the same
    counters as the feed keeps, and the listings by reason work at once."""
    before = _ledger(built)
    config = alembic_config(built.db.url, migrations_of("routing"), "routing")
    built.db.dispose()
    command.downgrade(config, "0009")
    command.upgrade(config, "head")
    assert _ledger(built) == before
    assert any(r[-2] for r in before["daily"])  # reason_not_registered: not all zero


def test_long_periods_read_whole_months_from_the_monthly_counters(built: World) -> None:
    assert queries.split_period(date(2026, 3, 15), date(2026, 6, 30), date(2026, 7, 1)) == (
        (date(2026, 4, 1), date(2026, 6, 1)),
        [(date(2026, 3, 15), date(2026, 3, 31))],
    )
    # The month of today (overdue begins mid-month) and a partial last month: days.
    assert queries.split_period(date(2026, 4, 1), date(2026, 6, 20), date(2026, 6, 10)) == (
        (date(2026, 4, 1), date(2026, 5, 1)),
        [(date(2026, 6, 1), date(2026, 6, 20))],
    )
    assert queries.split_period(date(2026, 4, 2), date(2026, 4, 29), date(2026, 7, 1)) == (
        None,
        [(date(2026, 4, 2), date(2026, 4, 29))],
    )
    # The same figures whichever way the period is cut: whole months or days.
    whole = ask(built, PROV_A, (date(2026, 3, 31), date(2026, 6, 30)))["totals"]
    by_day = ask(built, PROV_A, (date(2026, 3, 31), date(2026, 6, 30)), group_by="day")
    assert whole == by_day["totals"]
    assert whole["exchanges"] == 9 and whole["overdue"] == 1


def test_a_consumer_batch_moves_the_counters_once_and_right(world: World) -> None:  # noqa: F811
    """Arrivals of one exchange's three copies and another's, in one batch (as routing's
    consumer commits them): the rows are read up front, the counters moved at commit,
    and the ledger is what a rebuild gives."""
    from services.common.bus.envelope import wrap
    from services.common.bus.messages import DeliveryArrived
    from services.routing import consumers

    sent = vn("2026-04-02 09:00")
    world.send("B1", PROV_A, (DEPT_A, COMMUNE_A, PROV_B), at=sent)
    world.send("B2", DEPT_A, (PROV_A,), at=sent)
    arrivals = [
        DeliveryArrived(
            delivery_id=world.deliveries[(doc, recipient)],
            recipient=recipient,
            arrived_at=(sent + timedelta(minutes=minutes)).isoformat(),
        )
        for doc, recipient, minutes in (
            ("B1", DEPT_A, 1),
            ("B1", COMMUNE_A, 20),
            ("B1", PROV_B, 90),
            ("B2", PROV_A, 3),
        )
    ]
    with world.db.unit_of_work() as session:
        consumers.lock_for_batch(session, list(arrivals))
        for msg in arrivals:
            consumers.on_delivery_arrived(session, msg, wrap(msg))
    latency = ask(world, PROV_A)["totals"]["latency_sent_to_arrived"]
    assert (latency["count"], latency["p50"], latency["p95"]) == (4, 300, 7200)
    before = _ledger(world)
    rebuild(world.db)
    assert _ledger(world) == before


def test_an_exchange_changed_by_several_messages_of_a_batch_is_settled_once(
    world: World,  # noqa: F811
) -> None:
    """The verdict and every copy's arrival in one batch: the exchange goes from "not
    verified" to signed and delivered within the transaction, and the counters move
    once, from what it contributed before the batch to what it contributes after."""
    from services.common.bus.envelope import wrap
    from services.common.bus.messages import DeliveryArrived, DocumentVerifiedV2
    from services.common.contract import Status, Verdict
    from services.routing import consumers

    sent = vn("2026-04-02 09:00")
    world.send("C1", PROV_A, (DEPT_A, COMMUNE_A), at=sent)
    assert ask(world, PROV_A)["totals"]["signed_share"] == 0
    verdict = DocumentVerifiedV2(
        document="C1",
        sha256="00" * 32,
        verdict=Verdict.VALID,
        signature_count=1,
        signers=("CN=Cơ quan",),
        organization_signed=True,
        verified_at=sent.isoformat(),
        reasons=(),
        scanned=False,
    )
    arrivals = [
        DeliveryArrived(
            delivery_id=world.deliveries[("C1", recipient)],
            recipient=recipient,
            arrived_at=(sent + timedelta(minutes=minutes)).isoformat(),
        )
        for recipient, minutes in ((DEPT_A, 1), (COMMUNE_A, 20))
    ]
    with world.db.unit_of_work() as session:
        consumers.lock_for_batch(session, [verdict, *arrivals])
        consumers.on_document_verified(session, verdict, wrap(verdict))
        for msg in arrivals:
            consumers.on_delivery_arrived(session, msg, wrap(msg))
    totals = ask(world, PROV_A)["totals"]
    assert (totals["exchanges"], totals["signed_share"]) == (1, 1.0)
    assert totals["latency_sent_to_arrived"]["count"] == 2
    assert reasons(world, PROV_A) == {"C1": ["not_registered"]}
    for recipient in (DEPT_A, COMMUNE_A):
        world.report("C1", recipient, Status.REGISTERED, sent + timedelta(hours=2))
    assert ask(world, PROV_A)["totals"]["fully_electronic"] == 1
    before = _ledger(world)
    rebuild(world.db)
    assert _ledger(world) == before


def test_lienthong_ledger_rebuild(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command rebuilds the ledger of the configured database: emptied by hand,
    it comes back with the same figures."""
    from click.testing import CliRunner

    from services.cli import main
    from services.common.db import Database
    from services.common.wiring import migrate
    from services.routing import statuses
    from services.routing.settings import RoutingSettings
    from tests.unit.routing.ledger_world import Clock

    monkeypatch.setenv("LIENTHONG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LIENTHONG_BROKER_URL", "memory://")
    url = RoutingSettings.from_env().database_url
    migrate("routing", url)
    db = Database(url)
    clock = Clock()
    monkeypatch.setattr(statuses, "now", clock)
    w = World(db, clock)
    w.register_agencies()
    build_scenarios(w)
    figures = ask(w, PROV_A)
    with db.unit_of_work() as session:
        for model in (LedgerLatencyMonthly, LedgerLatency, LedgerMonthly, LedgerDaily):
            session.execute(sa.delete(model))
    assert ask(w, PROV_A)["totals"]["exchanges"] == 0
    result = CliRunner().invoke(main, ["ledger", "rebuild"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ledger rebuilt: 10 exchanges, 12 deliveries")
    assert ask(w, PROV_A) == figures
    db.dispose()
