"""``GET /v1/metrics/e-share`` and its exports, through ingest, its HTTP client of
routing and routing's real internal API (served on a local port): an
agency sees itself and below, never a sibling; the figures, the exchanges behind
them with their reasons, CSV, XLSX and the quarterly PDF."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from services.common.wiring import context_of, migrate
from services.ingest.agencies import add_agency, create_api_key
from services.ingest.app import create_app as create_ingest
from services.ingest.routing_client import RoutingClient
from services.ingest.settings import IngestSettings
from services.routing import statuses
from services.routing.app import create_app as create_routing
from services.routing.context import RoutingContext
from services.routing.settings import RoutingSettings
from tests.unit.routing.ledger_world import (
    AGENCIES,
    COMMUNE_A,
    PROV_A,
    PROV_B,
    Clock,
    World,
    build_scenarios,
)


@dataclass
class Stack:
    client: FlaskClient
    keys: dict[str, str]

    def get(self, caller: str, path: str, **params: str) -> Any:
        return self.client.get(
            path, query_string=params, headers={"Authorization": f"Bearer {self.keys[caller]}"}
        )


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    url = f"sqlite:///{tmp_path / 'routing.sqlite3'}"
    migrate("routing", url)
    env = {
        "LIENTHONG_DATA_DIR": str(tmp_path / "data"),
        "LIENTHONG_ROUTING_DATABASE_URL": url,
        "LIENTHONG_BROKER_URL": "memory://",
    }
    routing_app = create_routing(RoutingSettings.from_env(env))
    routing_ctx = context_of(routing_app, RoutingContext)
    clock = Clock()
    monkeypatch.setattr(statuses, "now", clock)
    world = World(routing_ctx.db, clock)
    world.register_agencies()
    build_scenarios(world)
    settings = IngestSettings.from_env(env)
    migrate("ingest", settings.database_url)
    # Routing's internal API over real HTTP (a local server), through ingest's client.
    server = make_server("127.0.0.1", 0, routing_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = RoutingClient(
        f"http://127.0.0.1:{server.server_port}", routing_ctx.settings.common.service_token
    )
    app = create_ingest(settings, routing=client)
    db = context_of(app, type(app.extensions["lienthong"])).db
    keys = {}
    for code, name, parent in AGENCIES:
        add_agency(db, code, name, parent=parent)
        keys[code] = create_api_key(db, code)
    yield Stack(app.test_client(), keys)
    server.shutdown()
    thread.join()
    db.dispose()
    routing_ctx.db.dispose()


Q2 = {"from": "2026-04-01", "to": "2026-06-30"}


def test_the_figures_through_the_api(stack: Stack) -> None:
    response = stack.get(PROV_A, "/v1/metrics/e-share", **Q2, include_children="true")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["agency"], body["from"], body["to"]) == (PROV_A, "2026-04-01", "2026-06-30")
    totals = body["totals"]
    assert (totals["exchanges"], totals["fully_electronic"], totals["share"]) == (8, 2, 0.25)
    assert (totals["signed_share"], totals["on_time_share"]) == (0.75, 0.5)
    months = stack.get(
        PROV_A, "/v1/metrics/e-share", **Q2, include_children="true", group_by="month"
    ).get_json()
    assert [(r["group"], r["share"]) for r in months["rows"]] == [
        ("2026-04", 0.5),
        ("2026-05", 0.0),
        ("2026-06", 0.0),
    ]
    alone = stack.get(PROV_A, "/v1/metrics/e-share", **Q2).get_json()
    assert alone["agencies"] == [PROV_A] and alone["totals"]["exchanges"] == 3


def test_a_sibling_or_a_parent_is_refused(stack: Stack) -> None:
    assert stack.get(PROV_A, "/v1/metrics/e-share", agency=PROV_B, **Q2).status_code == 403
    assert stack.get(COMMUNE_A, "/v1/metrics/e-share", agency=PROV_A, **Q2).status_code == 403
    path = "/v1/metrics/e-share/exchanges"
    assert stack.get(PROV_B, path, agency=PROV_A, **Q2).status_code == 403
    assert stack.get(PROV_A, "/v1/metrics/e-share", agency=COMMUNE_A, **Q2).status_code == 200


def test_bad_filters_are_400(stack: Stack) -> None:
    for params in (
        {"from": "2026-04-01"},
        {"from": "2026/04/01", "to": "2026-06-30"},
        {**Q2, "group_by": "week"},
        {"from": "2026-06-30", "to": "2026-04-01"},
        {**Q2, "include_children": "maybe"},
        {**Q2, "format": "pdf"},
    ):
        response = stack.get(PROV_A, "/v1/metrics/e-share", **params)
        assert response.status_code == 400, params
        assert response.mimetype == "application/problem+json"
    assert stack.client.get("/v1/metrics/e-share", query_string=Q2).status_code == 401


def test_the_exchanges_behind_a_figure_with_reasons(stack: Stack) -> None:
    body = stack.get(
        PROV_A,
        "/v1/metrics/e-share/exchanges",
        **Q2,
        include_children="true",
        fully_electronic="false",
        limit="4",
    ).get_json()
    assert body["total"] == 6
    assert [(e["document"], [r["code"] for r in e["reasons"]]) for e in body["exchanges"]] == [
        ("E2", ["not_signed"]),
        ("E3", ["scanned"]),
        ("E4", ["paper"]),
        ("E5", ["not_registered"]),
    ]
    rest = stack.get(
        PROV_A,
        "/v1/metrics/e-share/exchanges",
        **Q2,
        include_children="true",
        fully_electronic="false",
        after=body["next"],
    ).get_json()
    assert [e["document"] for e in rest["exchanges"]] == ["E6", "E10"] and rest["next"] is None
    paper = stack.get(
        PROV_A, "/v1/metrics/e-share/exchanges", **Q2, include_children="true", reason="paper"
    ).get_json()
    assert [e["document"] for e in paper["exchanges"]] == ["E4"]


def test_exports(stack: Stack) -> None:
    response = stack.get(
        PROV_A,
        "/v1/metrics/e-share",
        **Q2,
        include_children="true",
        group_by="agency",
        format="csv",
    )
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows[0][:3] == ["Cơ quan", "Tổng số văn bản gửi", "Hoàn toàn điện tử"]
    assert [r[:3] for r in rows[1:]] == [
        [f"{PROV_A} UBND tỉnh Khánh Hòa", "3", "0"],
        ["000.00.12.H41 Sở Nội vụ tỉnh Khánh Hòa", "3", "2"],
        [f"{COMMUNE_A} UBND phường Nha Trang", "2", "0"],
        ["Tổng 2026-04-01 – 2026-06-30", "8", "2"],
    ]
    # A column per reason: the province sent E4 (paper), E5 (not registered), E6.
    paper = rows[0].index("Lý do: Có gửi kèm bản giấy")
    assert [r[paper] for r in rows[1:]] == ["1", "0", "0", "1"]
    response = stack.get(
        PROV_A, "/v1/metrics/e-share/exchanges", **Q2, include_children="true", format="xlsx"
    )
    assert response.status_code == 200
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(response.get_data())).active
    assert sheet is not None
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][0] == "Mã văn bản (DocumentId)"
    reasons = {row[2]: row[10] for row in values[1:]}
    assert reasons["Văn bản E3"] == "scanned" and reasons["Văn bản E1"] is None
    assert len(values) == 9


def test_the_quarterly_report_is_a_pdf_with_the_figures(stack: Stack) -> None:
    response = stack.get(PROV_A, "/v1/metrics/e-share/report.pdf", year="2026", quarter="2")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = response.get_data()
    assert pdf.startswith(b"%PDF-")
    from pdfminer.high_level import extract_text

    text = extract_text(io.BytesIO(pdf))
    assert "BÁO CÁO TỶ LỆ VĂN BẢN ĐIỆN TỬ QUÝ 2/2026" in text
    assert "25,0%" in text and "75,0%" in text  # the share, the signed share
    assert "Sở Nội vụ tỉnh Khánh Hòa" in text  # the ranking
    assert "Văn bản E5" in text  # the overdue work
    # Why the others are not fully electronic, one line per reason met.
    assert "Văn bản chưa hoàn toàn điện tử, theo lý do" in text
    assert "Có gửi kèm bản giấy" in text and "12,5%" in text  # 1 of the 8 sent
    refused = stack.get(
        PROV_A, "/v1/metrics/e-share/report.pdf", agency=PROV_B, year="2026", quarter="2"
    )
    assert refused.status_code == 403


def test_prometheus_metrics_are_public_and_per_route(stack: Stack) -> None:
    assert stack.get(PROV_A, "/v1/metrics/e-share", **Q2).status_code == 200
    assert stack.get(PROV_A, "/v1/metrics/e-share", agency=PROV_B, **Q2).status_code == 403
    response = stack.client.get("/metrics")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    labels = 'method="GET",route="/v1/metrics/e-share",service="ingest"'
    assert f"lienthong_http_request_duration_seconds_count{{{labels}}} 2.0" in text
    assert f'lienthong_http_request_errors_total{{{labels},status="403"}} 1.0' in text
    assert "lienthong_outbox_backlog " in text


def test_the_metrics_paths_are_in_the_openapi_document(stack: Stack) -> None:
    paths = stack.client.get("/openapi.json").get_json()["paths"]
    for path in (
        "/v1/metrics/e-share",
        "/v1/metrics/e-share/exchanges",
        "/v1/metrics/e-share/overdue",
        "/v1/metrics/e-share/ranking",
        "/v1/metrics/e-share/report.pdf",
    ):
        assert "get" in paths[path], path


def test_the_overdue_list_can_leave_its_count_out(stack: Stack) -> None:
    """The dashboard takes the overdue figure from the counters and asks for the list
    alone: the same rows, no total."""
    args = {**Q2, "include_children": "true", "limit": "5"}
    counted = stack.get(PROV_A, "/v1/metrics/e-share/overdue", **args).get_json()
    uncounted = stack.get(PROV_A, "/v1/metrics/e-share/overdue", **args, count="false").get_json()
    assert counted["total"] >= 1 and uncounted["total"] is None
    assert uncounted["overdue"] == counted["overdue"]
    figures = stack.get(PROV_A, "/v1/metrics/e-share", **Q2, include_children="true").get_json()
    assert figures["totals"]["overdue"] == counted["total"]


def test_the_ranking_a_page_at_a_time(stack: Stack) -> None:
    """Routing ranks the agencies below and sums the levels; the caller gets one page."""
    first = stack.get(PROV_A, "/v1/metrics/e-share/ranking", **Q2, limit="1").get_json()
    assert [(r["rank"], r["name"]) for r in first["rows"]] == [(1, "Sở Nội vụ tỉnh Khánh Hòa")]
    assert (first["total"], first["page"], first["pages"]) == (2, 1, 2)
    assert [(f["level"], f["agencies"], f["exchanges"]) for f in first["levels"]] == [
        (0, 1, 3),
        (1, 2, 5),
    ]
    second = stack.get(PROV_A, "/v1/metrics/e-share/ranking", **Q2, limit="1", page="2")
    assert [r["group"] for r in second.get_json()["rows"]] == [COMMUNE_A]
    at_level_2 = stack.get(PROV_A, "/v1/metrics/e-share/ranking", **Q2, level="2").get_json()
    assert at_level_2["rows"] == [] and at_level_2["level"] == 2
    assert stack.get(PROV_A, "/v1/metrics/e-share/ranking", **Q2, page="x").status_code == 400
    sibling = stack.get(PROV_A, "/v1/metrics/e-share/ranking", **Q2, agency=PROV_B)
    assert sibling.status_code == 403
