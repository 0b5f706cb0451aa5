"""Routing's status API tells the truth: a report it cannot take (staff nested deep or
too large, a long description, a body nested 10,000 deep) is a 400 with nothing
recorded, and the answer to one it takes is built before the commit, so nothing after
the commit can fail it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from services.common.contract import Status
from services.common.errors import BadRequest
from services.common.internal_api import StatusReport, TakeBackRequest
from services.common.wiring import context_of, migrate
from services.routing import statuses
from services.routing.app import create_app
from services.routing.context import RoutingContext
from services.routing.settings import RoutingSettings
from tests.unit.ingest.hostile import deep_json, deep_value
from tests.unit.routing.test_statuses import RECIPIENT, _delivery, _events


@pytest.fixture
def routing(base_env: dict[str, str], tmp_path: Path) -> tuple[FlaskClient, RoutingContext]:
    url = f"sqlite:///{tmp_path / 'routing.sqlite3'}"
    migrate("routing", url)
    env = {**base_env, "LIENTHONG_ROUTING_DATABASE_URL": url, "LIENTHONG_BROKER_URL": "memory://"}
    app = create_app(RoutingSettings.from_env(env))
    return app.test_client(), context_of(app, RoutingContext)


def _post(routing: tuple[FlaskClient, RoutingContext], delivery_id: str, body: str) -> Any:
    client, context = routing
    return client.post(
        f"/internal/v1/deliveries/{delivery_id}/status",
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {context.settings.common.service_token}"},
    )


def _report(**extra: Any) -> dict[str, Any]:
    return {
        "code": "04",
        "reported_by": RECIPIENT,
        "arrived_at": datetime.now(UTC).isoformat(),
        **extra,
    }


@pytest.mark.parametrize("depth", [800, 5_000])
def test_staff_nested_deep_is_400_and_nothing_is_recorded(
    routing: tuple[FlaskClient, RoutingContext], depth: int
) -> None:
    delivery_id = _delivery(routing[1].db)
    staff = deep_json(depth, leaf="{}", key="Staff")
    body = json.dumps(_report(staff="STAFF")).replace('"STAFF"', staff)
    response = _post(routing, delivery_id, body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert _events(routing[1].db, delivery_id) == []


def test_a_body_nested_10000_deep_is_400(routing: tuple[FlaskClient, RoutingContext]) -> None:
    delivery_id = _delivery(routing[1].db)
    body = json.dumps(_report(x="DEEP")).replace('"DEEP"', deep_json(10_000))
    assert _post(routing, delivery_id, body).status_code == 400
    assert _events(routing[1].db, delivery_id) == []


@pytest.mark.parametrize(
    "extra",
    [
        {"staff": {"Staff": "x" * 5000}},
        {"description": "y" * 2001},
        {"arrived_at": "yesterday"},
        {"staff": ["not", "an", "object"]},
    ],
)
def test_unbounded_parts_are_400(
    routing: tuple[FlaskClient, RoutingContext], extra: dict[str, Any]
) -> None:
    delivery_id = _delivery(routing[1].db)
    response = _post(routing, delivery_id, json.dumps(_report(**extra)))
    assert response.status_code == 400, response.get_data(as_text=True)
    assert _events(routing[1].db, delivery_id) == []


def test_a_report_is_answered_with_the_change(routing: tuple[FlaskClient, RoutingContext]) -> None:
    delivery_id = _delivery(routing[1].db)
    staff = {"Department": "Văn thư", "Staff": "Trần Thị B"}
    first = _post(routing, delivery_id, json.dumps({**_report(staff=staff), "code": "03"}))
    assert first.status_code == 200, first.get_data(as_text=True)
    answer = first.get_json()
    assert (answer["code"], answer["status"], answer["seq"]) == ("03", "03", 2)
    assert answer["staff"] == staff
    assert _events(routing[1].db, delivery_id) == [(1, Status.ARRIVED), (2, Status.REGISTERED)]


def test_an_answer_that_cannot_be_built_leaves_nothing_committed(
    routing: tuple[FlaskClient, RoutingContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery_id = _delivery(routing[1].db)

    def failing(_changed: object) -> bytes:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(statuses, "status_answer", failing)
    response = _post(routing, delivery_id, json.dumps({**_report(), "code": "03"}))
    assert response.status_code == 500
    assert _events(routing[1].db, delivery_id) == []  # the client's retry will succeed
    monkeypatch.undo()
    retry = _post(routing, delivery_id, json.dumps({**_report(), "code": "03"}))
    assert retry.status_code == 200


def test_the_contract_bounds_staff_and_reasons_on_both_bodies() -> None:
    with pytest.raises(BadRequest):
        StatusReport.from_json(_report(staff=deep_value(800)))
    with pytest.raises(BadRequest):
        TakeBackRequest.from_json({"requested_by": RECIPIENT, "staff": deep_value(10)})
    with pytest.raises(BadRequest):
        TakeBackRequest.from_json({"requested_by": RECIPIENT, "reason": "r" * 2001})
    assert StatusReport.from_json(_report(staff={"Staff": "B"})).staff == {"Staff": "B"}
