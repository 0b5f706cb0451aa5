"""Push delivery's HTTP API on SQLite (nothing is sent): registering, showing, replacing
and removing a webhook; listing pushes and retrying dead ones; the OpenAPI document."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.ingest.models import Webhook
from services.ingest.webhooks.rules import EVENT_RECEIVED, EVENT_STATUS, EVENTS
from tests.unit.ingest.test_webhooks_kit import (
    HOOK,
    RECIPIENT,
    SENDER,
    THIRD,
    Ingest,
    dispatched,
    ingest_app,
    land,
    make_ingest,
)


@pytest.fixture
def ingest(tmp_path: Path) -> Iterator[Ingest]:
    yield from ingest_app(tmp_path)


# --- registering over HTTP --------------------------------------------------------------


def test_register_show_replace_and_remove_a_webhook(ingest: Ingest) -> None:
    first = ingest.client.put("/v1/webhook", json={"url": HOOK}, headers=ingest.auth(RECIPIENT))
    assert first.status_code == 201
    body = first.get_json()
    assert body["url"] == HOOK and body["events"] is None and body["agency"] == RECIPIENT
    assert body["secret"].startswith("whsec_")
    assert first.headers["Cache-Control"] == "no-store"

    shown = ingest.client.get("/v1/webhook", headers=ingest.auth(RECIPIENT))
    assert shown.status_code == 200
    assert "secret" not in shown.get_json()
    assert shown.get_json()["url"] == HOOK
    assert ingest.client.get("/v1/webhook", headers=ingest.auth(SENDER)).status_code == 404

    second = ingest.client.put(
        "/v1/webhook",
        json={"url": HOOK + "/v2", "events": [EVENT_STATUS]},
        headers=ingest.auth(RECIPIENT),
    )
    assert second.status_code == 200
    assert second.get_json()["secret"] != body["secret"]  # a new secret each time
    assert second.get_json()["events"] == [EVENT_STATUS]

    assert ingest.client.delete("/v1/webhook", headers=ingest.auth(RECIPIENT)).status_code == 204
    assert ingest.client.get("/v1/webhook", headers=ingest.auth(RECIPIENT)).status_code == 404
    assert ingest.client.delete("/v1/webhook", headers=ingest.auth(RECIPIENT)).status_code == 404


def test_the_secret_is_kept_encrypted_and_can_be_read_back_to_sign(ingest: Ingest) -> None:
    secret = ingest.register(RECIPIENT)["secret"]
    with ingest.ctx.db.reading() as session:
        stored = session.get(Webhook, RECIPIENT)
    assert stored is not None
    assert secret not in stored.secret
    assert ingest.ctx.webhook_box.open(stored.secret) == secret


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "url"),
        ({"url": "ftp://example.gov.vn/x"}, "url"),
        ({"url": "https://u:p@example.gov.vn/x"}, "url"),
        ({"url": HOOK, "events": ["delivery.exploded"]}, "events"),
        ({"url": HOOK, "events": "delivery.received"}, "events"),
    ],
)
def test_bad_registrations_are_422_and_change_nothing(
    ingest: Ingest, body: dict[str, Any], field: str
) -> None:
    response = ingest.client.put("/v1/webhook", json=body, headers=ingest.auth(RECIPIENT))
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"][0]["field"] == field
    assert ingest.client.get("/v1/webhook", headers=ingest.auth(RECIPIENT)).status_code == 404


def test_a_body_that_is_not_json_is_400(ingest: Ingest) -> None:
    response = ingest.client.put("/v1/webhook", data="url=x", headers=ingest.auth(RECIPIENT))
    assert response.status_code == 400


def test_webhook_calls_need_a_key(ingest: Ingest) -> None:
    assert ingest.client.put("/v1/webhook", json={"url": HOOK}).status_code == 401
    assert ingest.client.get("/v1/webhook/deliveries").status_code == 401


def test_loopback_is_refused_unless_allowed(tmp_path: Path) -> None:
    strict = make_ingest(tmp_path, LIENTHONG_WEBHOOK_ALLOW_LOOPBACK="false")
    response = strict.client.put(
        "/v1/webhook", json={"url": "http://127.0.0.1:9/hook"}, headers=strict.auth(RECIPIENT)
    )
    assert response.status_code == 422
    assert "LIENTHONG_WEBHOOK_ALLOW_LOOPBACK" in response.get_json()["detail"]
    strict.ctx.db.dispose()

    embedded = make_ingest(tmp_path)  # SQLite, nothing set: the embedded shape allows it
    embedded.register(RECIPIENT, "http://127.0.0.1:9/hook")
    embedded.ctx.db.dispose()


def test_the_openapi_document_describes_the_pushes_and_every_route(ingest: Ingest) -> None:
    spec = ingest.client.get("/openapi.json").get_json()
    assert set(spec["webhooks"]) == set(EVENTS)
    assert {"put", "get", "delete"} <= set(spec["paths"]["/v1/webhook"])
    documented = {
        (re.sub(r"\{[^}]+\}", "{}", path), method.upper())
        for path, operations in spec["paths"].items()
        for method in operations
    }
    served = {
        (re.sub(r"<[^>]+>", "{}", rule.rule), method)
        for rule in ingest.app.url_map.iter_rules()
        if rule.endpoint != "static" and rule.rule != "/openapi.json"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert ("/v1/webhook/deliveries/{}/retry", "POST") in served
    assert ("/v1/overdue", "GET") in served
    assert served <= documented, served - documented


# --- looking at pushes, retrying them -------------------------------------------------------


def test_the_agency_lists_its_pushes_and_retries_dead_ones(ingest: Ingest) -> None:
    # delivery.received only: landing also pushes status 01, which this test does not count.
    ingest.register(RECIPIENT, events=[EVENT_RECEIVED])
    ingest.register(THIRD, events=[EVENT_RECEIVED])
    first, second = (dispatched(ingest.document()) for _ in range(2))
    for msg in (first, second):
        land(ingest, msg)
    land(ingest, dispatched(ingest.document(), recipient=THIRD))
    dead, delivered = ingest.jobs(RECIPIENT)
    moment = datetime.now(UTC)
    ingest.mark(dead.id, dead_at=moment, attempts=3, last_error="HTTP 410: gone", last_status=410)
    ingest.mark(delivered.id, delivered_at=moment, attempts=1, last_status=200)

    def listed(query: str = "") -> list[dict[str, Any]]:
        response = ingest.client.get(
            f"/v1/webhook/deliveries{query}", headers=ingest.auth(RECIPIENT)
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return list(response.get_json()["items"])

    assert {i["id"] for i in listed()} == {dead.id, delivered.id}  # not THIRD's
    [item] = listed("?state=dead")
    assert (item["id"], item["state"], item["attempts"]) == (dead.id, "dead", 3)
    assert (item["last_status"], item["last_error"]) == (410, "HTTP 410: gone")
    assert item["body"]["data"]["delivery_id"] == first.delivery_id
    assert [i["id"] for i in listed("?state=delivered")] == [delivered.id]
    assert listed("?state=pending") == []
    assert len(listed("?limit=1")) == 1
    bad = ingest.client.get("/v1/webhook/deliveries?state=lost", headers=ingest.auth(RECIPIENT))
    assert bad.status_code == 400

    retried = ingest.client.post(
        f"/v1/webhook/deliveries/{dead.id}/retry", headers=ingest.auth(RECIPIENT)
    )
    assert retried.status_code == 200
    assert (retried.get_json()["state"], retried.get_json()["attempts"]) == ("pending", 0)
    assert [i["id"] for i in listed("?state=pending")] == [dead.id]
    again = ingest.client.post(
        f"/v1/webhook/deliveries/{delivered.id}/retry", headers=ingest.auth(RECIPIENT)
    )
    assert again.status_code == 409
    foreign = ingest.client.post(
        f"/v1/webhook/deliveries/{dead.id}/retry", headers=ingest.auth(THIRD)
    )
    assert foreign.status_code == 404
