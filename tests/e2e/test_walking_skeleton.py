"""A document travels from one agency to two others through the three services,
each its own process, on RabbitMQ, PostgreSQL and S3 — and on embedded defaults."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.infra import RabbitVhost
from testkit.seaweed import SeaweedS3
from testkit.stack import AgencyClient, Stack, metadata_to, wait_for

pytestmark = pytest.mark.e2e

SENDER, FIRST, SECOND, OUTSIDER = "000.00.00.H41", "000.00.01.H41", "000.00.02.H41", "000.00.03.H41"


def _register(stack: Stack) -> dict[str, AgencyClient]:
    stack.cli("agencies", "add", SENDER, "UBND tỉnh Nghệ An")
    stack.cli("agencies", "add", FIRST, "Sở Nội vụ", "--parent", SENDER)
    stack.cli("agencies", "add", SECOND, "Sở Tài chính", "--parent", SENDER)
    stack.cli("agencies", "add", OUTSIDER, "Sở Y tế", "--parent", SENDER)
    clients = {}
    for code in (SENDER, FIRST, SECOND, OUTSIDER):
        key = stack.cli("keys", "create", code).stdout
        assert key.count("\n") == 1 and key.startswith("lt_")
        clients[code] = AgencyClient(stack.url("ingest"), code, key.strip())
    return clients


def _travel(clients: dict[str, AgencyClient], pdf: bytes) -> tuple[str, dict[str, str]]:
    sender = clients[SENDER]
    sent = sender.send(pdf, metadata_to(FIRST, SECOND), **{"Idempotency-Key": "e2e-1"})
    assert sent.status_code == 201, sent.text
    body = sent.json()
    doc_id = body["id"]
    assert body["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert body["size"] == len(pdf)
    assert body["document_id"] == f"{SENDER},2026/11/21,15/UBND-VP"

    deliveries = {}
    for code in (FIRST, SECOND):
        item = wait_for(lambda c=code: [i for i in clients[c].inbox() if i["id"] == doc_id])[0]
        assert item["from"] == SENDER
        assert item["status"] == "01"
        deliveries[code] = item["delivery_id"]
        content = clients[code].content(doc_id)
        assert content.status_code == 200
        assert content.headers["Content-Type"] == "application/pdf"
        assert content.content == pdf

    assert clients[OUTSIDER].inbox() == []
    assert clients[OUTSIDER].document(doc_id).status_code == 403
    assert clients[OUTSIDER].content(doc_id).status_code == 403

    registered = clients[FIRST].report(
        deliveries[FIRST], "03", description="Đã vào sổ", staff={"Staff": "Trần Thị Bình"}
    )
    assert registered.status_code == 200, registered.text
    assert registered.json()["status"] == "03"
    illegal = clients[SECOND].report(deliveries[SECOND], "06")
    assert illegal.status_code == 409
    assert illegal.headers["Content-Type"] == "application/problem+json"
    foreign = clients[SECOND].report(deliveries[FIRST], "03")
    assert foreign.status_code == 403

    def sender_view() -> dict[str, str | None] | None:
        seen = {d["OrganId"]: d["status"] for d in sender.document(doc_id).json()["deliveries"]}
        return seen if seen == {FIRST: "03", SECOND: "01"} else None

    assert wait_for(sender_view)
    replay = sender.send(pdf, metadata_to(FIRST, SECOND), **{"Idempotency-Key": "e2e-1"})
    assert replay.status_code == 201
    assert replay.json()["id"] == doc_id
    return doc_id, deliveries


def _take_back_and_account(
    stack: Stack, clients: dict[str, AgencyClient], doc_id: str, deliveries: dict[str, str]
) -> None:
    """Timeline, a signed receipt checked offline, a recall answered 15 and 16, the audit."""
    sender = clients[SENDER]
    timeline = sender.http.get(f"{sender.base_url}/v1/documents/{doc_id}/timeline").json()
    assert [(e["OrganId"], e["code"]) for e in timeline["events"] if e["OrganId"] == FIRST] == [
        (FIRST, "01"),
        (FIRST, "03"),
    ]
    own = clients[SECOND].http.get(f"{sender.base_url}/v1/documents/{doc_id}/timeline").json()
    assert {e["OrganId"] for e in own["events"]} == {SECOND}

    receipt = sender.http.get(f"{sender.base_url}/v1/deliveries/{deliveries[FIRST]}/receipt")
    assert receipt.status_code == 200
    key = sender.http.get(f"{sender.base_url}/v1/receipts/key").json()["public_key_pem"]
    (stack.data_dir / "receipt.json").write_text(receipt.text)
    (stack.data_dir / "platform.pem").write_text(key)
    checked = stack.cli(
        "receipts",
        "verify",
        str(stack.data_dir / "receipt.json"),
        "--key",
        str(stack.data_dir / "platform.pem"),
    )
    assert "receipt valid" in checked.stdout and doc_id in checked.stdout

    recall = sender.http.post(
        f"{sender.base_url}/v1/documents/{doc_id}/recall", json={"reason": "Ban hành nhầm"}
    )
    assert recall.status_code == 200, recall.text
    assert [d["requested"] for d in recall.json()["deliveries"]] == [True, True]
    assert clients[FIRST].report(deliveries[FIRST], "15").status_code == 200
    assert clients[SECOND].report(deliveries[SECOND], "16").status_code == 200
    wait_for(lambda: [i for i in clients[FIRST].inbox() if i["id"] == doc_id] == [])
    assert [i["status"] for i in clients[SECOND].inbox() if i["id"] == doc_id] == ["01"]

    def answered() -> bool:
        seen = {d["OrganId"]: d["status"] for d in sender.document(doc_id).json()["deliveries"]}
        return seen == {FIRST: "15", SECOND: "01"}

    assert wait_for(answered)
    assert "audit chain intact" in stack.cli("audit", "verify").stdout


@pytest.fixture
def real_stack(
    tmp_path: Path, fresh_rabbit: RabbitVhost, pg_urls: dict[str, str], seaweed: SeaweedS3
) -> Iterator[Stack]:
    stack = Stack(
        tmp_path,
        {
            "LIENTHONG_BROKER_URL": fresh_rabbit.url,
            "LIENTHONG_STORAGE_URL": seaweed.url("lt-e2e"),
            "LIENTHONG_INGEST_DATABASE_URL": pg_urls["ingest"],
            "LIENTHONG_SIGNING_DATABASE_URL": pg_urls["signing"],
            "LIENTHONG_ROUTING_DATABASE_URL": pg_urls["routing"],
            "LIENTHONG_SERVICE_TOKEN": "e2e-service-token-0123456789",
        },
    )
    yield stack
    stack.stop_all()


def test_document_travels_on_the_real_stack(real_stack: Stack, corpus: Path) -> None:
    real_stack.cli("migrate")
    clients = _register(real_stack)
    for service in ("ingest", "signing", "routing"):
        real_stack.serve(service)
    real_stack.wait_healthy()
    pdf = (
        corpus / "pdf-real/002-trivial-libre-office-writer/002-trivial-libre-office-writer.pdf"
    ).read_bytes()
    doc_id, deliveries = _travel(clients, pdf)
    _take_back_and_account(real_stack, clients, doc_id, deliveries)
    for service in ("ingest", "signing", "routing"):
        assert real_stack.stop(service) == 0, real_stack.log_tail(service)


def test_document_travels_on_embedded_defaults(tmp_path: Path, corpus: Path) -> None:
    stack = Stack(tmp_path)
    try:
        stack.cli("migrate")
        clients = _register(stack)
        stack.start("up", name="up")
        stack.wait_healthy()
        pdf = (corpus / "pdf-real/004-pdflatex-4-pages/pdflatex-4-pages.pdf").read_bytes()
        _travel(clients, pdf)
    finally:
        stack.stop_all()
