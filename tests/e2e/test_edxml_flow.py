"""edXML on the real stack (RabbitMQ, PostgreSQL, SeaweedFS, three `lienthong serve`
processes): a package in from agency A, in B's inbox with its attachments, B's status
package back, A sees the status, and A exports both as edXML, signed by the signing
service with A's organization certificate; then A recalls it by package and B's 15
comes back the same way."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree

from testkit.infra import postgres_databases, rabbit_vhost
from testkit.pdfs import one_page_pdf
from testkit.seaweed import SeaweedS3
from testkit.stack import AgencyClient, Stack, wait_for

pytestmark = pytest.mark.e2e

A, B, C = "000.00.00.H41", "000.00.00.G22", "001.00.99.H44"
TOKEN = "e2e-edxml-service-token-0123456789"
SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "edxml"
QCVN_102 = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
NS = {"e": QCVN_102}
DOCUMENT_ID = "000.00.00.H41,2024/03/15,12/UBND-VP"
VIETNAM = timezone(timedelta(hours=7))


def _post(client: AgencyClient, body: bytes, **headers: str) -> requests.Response:
    return client.http.post(
        f"{client.base_url}/v1/edxml",
        data=body,
        headers={"Content-Type": "application/xml", **headers},
        timeout=30,
    )


def _get(client: AgencyClient, path: str) -> requests.Response:
    return client.http.get(f"{client.base_url}{path}", timeout=30)


def _text(root: Any, path: str) -> str:
    found = root.find(path, NS)
    assert found is not None, path
    return str(found.text or "").strip()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, seaweed: SeaweedS3) -> Iterator[Stack]:
    data = tmp_path_factory.mktemp("e2e-edxml")
    with rabbit_vhost() as rabbit, postgres_databases() as pg:
        running = Stack(
            data,
            {
                "LIENTHONG_BROKER_URL": rabbit.url,
                "LIENTHONG_STORAGE_URL": seaweed.url("lt-e2e-edxml"),
                "LIENTHONG_INGEST_DATABASE_URL": pg["ingest"],
                "LIENTHONG_SIGNING_DATABASE_URL": pg["signing"],
                "LIENTHONG_ROUTING_DATABASE_URL": pg["routing"],
                "LIENTHONG_SERVICE_TOKEN": TOKEN,
                "LIENTHONG_PKI_PASSPHRASE": "e2e pki passphrase, long enough",
            },
        )
        try:
            running.cli("migrate")
            running.cli("pki", "init")
            for code, name in ((A, "UBND tỉnh Quảng Ninh"), (B, "Văn phòng Chính phủ")):
                running.cli("agencies", "add", code, name)
                running.cli(
                    "pki", "issue", "--agency", code, "--kind", "organization", "--name", name
                )
            running.cli("agencies", "add", C, "Sở Nội vụ")
            for service in ("ingest", "signing", "routing"):
                running.serve(service)
            running.wait_healthy()
            yield running
            for service in ("ingest", "signing", "routing"):
                assert running.stop(service) == 0, running.log_tail(service)
        finally:
            running.stop_all()


def test_a_package_travels_and_its_status_comes_back(stack: Stack) -> None:
    clients = {
        code: AgencyClient(
            stack.url("ingest"), code, stack.cli("keys", "create", code).stdout.strip()
        )
        for code in (A, B)
    }
    a, b = clients[A], clients[B]

    # A's package in: routed to both To agencies, as the JSON API would.
    sent = _post(
        a, (SAMPLES / "qcvn102-new-document.xml").read_bytes(), **{"Idempotency-Key": "e2e-edxml"}
    )
    assert sent.status_code == 201, sent.text
    answer = sent.json()
    doc_id = answer["id"]
    assert answer["document_id"] == DOCUMENT_ID
    assert answer["recipients"] == [B, C]

    # In B's inbox, the PDF and the unzipped .doc downloadable as they came.
    item = wait_for(lambda: [i for i in b.inbox() if i["id"] == doc_id], timeout=60)[0]
    assert item["status"] == "01"
    assert b.content(doc_id).content == one_page_pdf("Cong van so 12")
    second = _get(b, f"/v1/documents/{doc_id}/attachments/2")
    assert second.status_code == 200
    assert second.headers["Content-Type"] == "application/msword"

    # B's status package back, read as Vietnam time, recorded by routing.
    status = _post(b, (SAMPLES / "qcvn102-status-03.xml").read_bytes())
    assert status.status_code == 200, status.text
    assert status.json()["status"] == "03"
    assert status.json()["delivery_id"] == item["delivery_id"]
    too_late = _post(b, (SAMPLES / "qcvn102-status-03.xml").read_bytes().replace(b">03<", b">02<"))
    assert too_late.status_code == 409

    # A sees it.
    def seen() -> dict[str, Any] | None:
        found = {d["OrganId"]: d for d in a.document(doc_id).json()["deliveries"]}
        return found if found[B]["status"] == "03" else None

    delivery = wait_for(seen, timeout=60)[B]["delivery_id"]
    verification = wait_for(lambda: a.document(doc_id).json().get("verification"), timeout=60)
    assert verification["verdict"] == "unsigned"

    # The ledger counts it as the JSON API's documents: Paper 1 and unsigned, so not
    # fully electronic, for those reasons.
    today = datetime.now(VIETNAM).date()  # a day either side: midnight may pass meanwhile
    period = f"from={today - timedelta(days=1)}&to={today + timedelta(days=1)}"

    def in_ledger() -> dict[str, Any] | None:
        page = _get(a, f"/v1/metrics/e-share/exchanges?{period}").json()
        found = [e for e in page["exchanges"] if e["document"] == doc_id]
        return found[0] if found and found[0]["signed"] is False else None

    exchange = wait_for(in_ledger, timeout=60)
    assert (exchange["paper"], exchange["fully_electronic"]) == (True, False)

    # A exports both, signed with A's organization certificate by the signing service.
    package = _get(a, f"/v1/documents/{doc_id}/edxml?signed=1")
    assert package.status_code == 200, package.text
    root = etree.fromstring(package.content)
    assert root.tag == f"{{{QCVN_102}}}edXML"
    assert _text(root, ".//e:MessageHeader/e:DocumentId") == DOCUMENT_ID
    assert [n.text for n in root.iterfind(".//e:Attachment/e:AttachmentName", NS)] == [
        "12-UBND-VP.pdf",
        "phu-luc-1.doc",
    ]
    status_package = _get(a, f"/v1/deliveries/{delivery}/status.edxml?signed=1")
    assert status_package.status_code == 200, status_package.text
    status_root = etree.fromstring(status_package.content)
    assert _text(status_root, ".//e:StatusCode") == "03"
    assert _text(status_root, ".//e:ResponseFor/e:DocumentId") == DOCUMENT_ID
    assert _text(status_root, ".//e:StaffInfo/e:Staff") == "Phạm Thị D"
    for signed in (package.content, status_package.content):
        verdict = requests.post(
            f"{stack.url('signing')}/v1/xml/verify",
            data=signed,
            headers={"Content-Type": "application/xml", "Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        ).json()
        assert verdict["verdict"] == "valid", verdict
        assert verdict["organization"] == "UBND tỉnh Quảng Ninh"

    # A recalls it by package; B agrees by package (15); A sees that too.
    recall = _post(a, (SAMPLES / "qcvn102-recall.xml").read_bytes())
    assert recall.status_code == 200, recall.text
    assert [(d["OrganId"], d["requested"]) for d in recall.json()["deliveries"]] == [
        (B, True),
        (C, True),
    ]
    agreed = (SAMPLES / "qcvn102-status-03.xml").read_bytes().replace(b">03<", b">15<")
    answer = _post(b, agreed)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "15"
    assert wait_for(lambda: a.document(doc_id).json()["deliveries"][0]["status"] == "15")
    exported = etree.fromstring(_get(a, f"/v1/deliveries/{delivery}/status.edxml").content)
    assert _text(exported, ".//e:StatusCode") == "15"
    # A signed package posted to ingest has its signature checked by the signing service.
    again = _post(a, package.content, **{"Idempotency-Key": "e2e-edxml-signed"})
    assert again.status_code == 201, again.text
    assert again.json()["signature"]["verdict"] == "valid"
    assert again.json()["signature"]["organization"] == "UBND tỉnh Quảng Ninh"
    for client in clients.values():
        client.http.close()
