"""``GET /metrics`` (Prometheus) on routing: request latency and errors per route,
the outbox backlog, the queues, deliveries per status and the e-share per province."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.common.wiring import context_of, migrate
from services.routing import statuses
from services.routing.app import create_app
from services.routing.context import RoutingContext
from services.routing.ledger.gauges import e_share_families, roots
from services.routing.settings import RoutingSettings
from tests.unit.routing.ledger_world import (
    COMMUNE_A,
    DEPT_A,
    PROV_A,
    PROV_B,
    Clock,
    World,
    build_scenarios,
    vn,
)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_routing_metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'routing.sqlite3'}"
    migrate("routing", url)
    env = {
        "LIENTHONG_DATA_DIR": str(tmp_path / "data"),
        "LIENTHONG_ROUTING_DATABASE_URL": url,
        "LIENTHONG_BROKER_URL": "memory://",
    }
    app = create_app(RoutingSettings.from_env(env))
    ctx = context_of(app, RoutingContext)
    clock = Clock()
    monkeypatch.setattr(statuses, "now", clock)
    world = World(ctx.db, clock)
    world.register_agencies()
    build_scenarios(world)
    client = app.test_client()
    token = {"Authorization": f"Bearer {ctx.settings.common.service_token}"}
    path = "/internal/v1/metrics/e-share"
    ok = {"viewer": PROV_A, "from": "2026-04-01", "to": "2026-06-30"}
    assert client.get(path, query_string=ok, headers=token).status_code == 200
    sibling = {**ok, "agency": PROV_B}
    assert client.get(path, query_string=sibling, headers=token).status_code == 403

    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    found = samples(response.get_data(as_text=True))
    route = "/internal/v1/metrics/e-share"
    count = (
        "lienthong_http_request_duration_seconds_count",
        (("method", "GET"), ("route", route), ("service", "routing")),
    )
    assert found[count] == 2
    error = (
        "lienthong_http_request_errors_total",
        (("method", "GET"), ("route", route), ("service", "routing"), ("status", "403")),
    )
    assert found[error] == 1
    # Every status but 01 waits in the outbox (no relay runs here), with the routed
    # documents' announcements.
    assert found[("lienthong_outbox_backlog", ())] > 0
    assert found[("lienthong_metrics_source_up", (("source", "routing-outbox"),))] == 1
    by_status = {
        dict(labels)["status"]: value
        for (name, labels), value in found.items()
        if name == "lienthong_deliveries"
    }
    # E1 ×2, E5 (department) completed; E5 (commune) only arrived; E6 taken back; the
    # other seven registered.
    assert by_status == {"06": 3, "01": 1, "15": 1, "03": 7}
    assert ("lienthong_queue_messages", (("queue", "lt.routing.events"),)) in found
    assert ("lienthong_dead_letters", ()) in found


def test_e_share_gauges_per_province(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'routing.sqlite3'}"
    migrate("routing", url)
    from services.common.db import Database

    db = Database(url)
    clock = Clock()
    monkeypatch.setattr(statuses, "now", clock)
    world = World(db, clock)
    world.register_agencies()
    build_scenarios(world)
    families = {f.name: f for f in e_share_families(db, now=vn("2026-06-30 12:00"))}
    values = {
        name: {s.labels["province"]: s.value for s in family.samples}
        for name, family in families.items()
    }
    assert values["lienthong_e_share_exchanges"] == {PROV_A: 8, PROV_B: 1}
    assert values["lienthong_e_share_fully_electronic"] == {PROV_A: 2, PROV_B: 1}
    assert values["lienthong_e_share_ratio"] == {PROV_A: 0.25, PROV_B: 1.0}
    assert roots({PROV_A: None, DEPT_A: PROV_A, COMMUNE_A: DEPT_A, "x": "y", "y": "x"}) == {
        PROV_A: PROV_A,
        DEPT_A: PROV_A,
        COMMUNE_A: PROV_A,
        "x": "y",  # a cycle in the registry stops the climb
        "y": "x",
    }
    db.dispose()
