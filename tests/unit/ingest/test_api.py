"""The ingest HTTP API through Flask's test client: SQLite, a local object directory,
kombu's memory transport (nothing is relayed), and a fake of routing's status API."""

from __future__ import annotations

import hashlib
import io
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from services.common.bus.envelope import wrap
from services.common.bus.messages import DeliveryDispatched, DeliveryStatusChanged
from services.common.contract import Status
from services.common.errors import Conflict, Forbidden, NotFound
from services.common.internal_api import (
    EShareAnswer,
    EShareExchangePage,
    EShareOverduePage,
    EShareQuery,
    EShareRanking,
    OverdueListing,
    ReceiptAnswer,
    ReceiptKeyAnswer,
    StatusReport,
    TakeBackAnswer,
    TakeBackRequest,
    Timeline,
)
from services.common.wiring import context_of, migrate
from services.ingest.agencies import add_agency, create_api_key, revoke_api_keys
from services.ingest.app import create_app
from services.ingest.context import IngestContext
from services.ingest.errors import TransitionRejected
from services.ingest.models import BUS, Delivery, Document
from services.ingest.ports import RoutingPort
from services.ingest.projections import on_delivery_dispatched
from services.ingest.settings import IngestSettings
from services.routing.lifecycle import DeliveryState, Role, next_state
from testkit.stack import CORPUS

REAL = CORPUS / "pdf-real"
SMALL_PDF = REAL / "002-trivial-libre-office-writer" / "002-trivial-libre-office-writer.pdf"
FOUR_PAGES = REAL / "004-pdflatex-4-pages" / "pdflatex-4-pages.pdf"
PASSWORD_PDF = REAL / "005-libreoffice-writer-password" / "libreoffice-writer-password.pdf"
LARGE_PDF = REAL / "023-cmyk-image" / "cmyk-image.pdf"  # 443,953 bytes

MAX_UPLOAD = 200_000
SENDER = "000.00.00.H41"
RECIPIENT = "000.00.00.G22"
THIRD = "001.00.99.H44"
PROBLEM_JSON = "application/problem+json"


# --- a fake of routing's internal status API ---------------------------------------


@dataclass
class FakeRouting(RoutingPort):
    """What ingest's RoutingClient talks to, minus HTTP: routing's real status machine."""

    deliveries: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    states: dict[str, DeliveryState] = field(default_factory=dict)
    seqs: dict[str, int] = field(default_factory=dict)
    reports: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def add_delivery(self, delivery_id: str, document: str, sender: str, recipient: str) -> None:
        self.deliveries[delivery_id] = (document, sender, recipient)

    def report_status(self, delivery_id: str, report: StatusReport) -> DeliveryStatusChanged:
        self.reports.append((delivery_id, report.to_json()))
        if delivery_id not in self.deliveries:
            raise NotFound(f"no delivery {delivery_id}")
        document, sender, recipient = self.deliveries[delivery_id]
        reporter = report.reported_by
        if reporter not in (sender, recipient):
            raise Forbidden(f"{reporter} is neither sender nor recipient")
        role = Role.RECIPIENT if reporter == recipient else Role.SENDER
        state = self.states.get(delivery_id, DeliveryState())
        seq = self.seqs.get(delivery_id, 0)
        try:
            if report.arrived_at and state.status is None:
                state, seq = next_state(state, Status.ARRIVED, Role.RECIPIENT), seq + 1
            state = next_state(state, report.code, role)
        except Conflict as e:  # what RoutingClient raises on routing's 409
            raise TransitionRejected(e.detail) from e
        seq += 1
        self.states[delivery_id], self.seqs[delivery_id] = state, seq
        return DeliveryStatusChanged(
            delivery_id=delivery_id,
            document=document,
            recipient=recipient,
            code=report.code,
            status=state.status,
            seq=seq,
            at=datetime.now(UTC).isoformat(),
            reported_by=reporter,
            description=report.description,
            staff=report.staff,
        )

    def take_back(self, document: str, request: TakeBackRequest) -> TakeBackAnswer:
        raise NotImplementedError

    def timeline(self, document: str) -> Timeline:
        raise NotImplementedError

    def receipt(self, delivery_id: str) -> ReceiptAnswer:
        raise NotImplementedError

    def receipt_key(self) -> ReceiptKeyAnswer:
        raise NotImplementedError

    def overdue(self, agency: str) -> OverdueListing:
        raise NotImplementedError

    def e_share(self, query: EShareQuery) -> EShareAnswer:
        raise NotImplementedError

    def e_share_exchanges(
        self, query: EShareQuery, *, limit: int, after: str | None
    ) -> EShareExchangePage:
        raise NotImplementedError

    def e_share_overdue(
        self, query: EShareQuery, *, limit: int, count: bool = True
    ) -> EShareOverduePage:
        raise NotImplementedError

    def e_share_ranking(self, query: EShareQuery, params: dict[str, str]) -> EShareRanking:
        raise NotImplementedError


# --- the app ---------------------------------------------------------------------------


@dataclass
class Ingest:
    app: Flask
    client: FlaskClient
    ctx: IngestContext
    routing: FakeRouting
    keys: dict[str, str]
    data_dir: Path

    def auth(self, agency: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[agency]}"}

    def count(self, table: Any, *where: Any) -> int:
        with self.ctx.db.reading() as session:
            return int(
                session.execute(
                    sa.select(sa.func.count()).select_from(table).where(*where)
                ).scalar_one()
            )

    def announced(self, event: str) -> list[dict[str, Any]]:
        outbox = BUS.outbox
        with self.ctx.db.reading() as session:
            rows = session.execute(
                sa.select(outbox.c.body).where(outbox.c.routing_key == event).order_by(outbox.c.id)
            ).all()
        return [row.body for row in rows]

    def stored_objects(self) -> list[Path]:
        return _files(self.data_dir / "objects")

    def spooled_files(self) -> list[Path]:
        return _files(self.data_dir / "spool")


def _files(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file()] if directory.exists() else []


@pytest.fixture
def ingest(tmp_path: Path) -> Iterator[Ingest]:
    data_dir = tmp_path / "data"
    settings = IngestSettings.from_env(
        {
            "LIENTHONG_DATA_DIR": str(data_dir),
            "LIENTHONG_BROKER_URL": "memory://",
            "LIENTHONG_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
        }
    )
    migrate("ingest", settings.database_url)
    routing = FakeRouting()
    app = create_app(settings, routing=routing)
    app.config["TESTING"] = True
    ctx = context_of(app, IngestContext)
    keys = {}
    for code, name in [
        (SENDER, "UBND tỉnh Quảng Ninh"),
        (RECIPIENT, "Văn phòng Chính phủ"),
        (THIRD, "Sở Nội vụ"),
    ]:
        add_agency(ctx.db, code, name)
        keys[code] = create_api_key(ctx.db, code, label="unit")
    yield Ingest(app, app.test_client(), ctx, routing, keys, settings.common.data_dir)
    ctx.db.dispose()


def metadata(*recipients: str, subject: str = "Về việc triển khai dịch vụ công") -> dict[str, Any]:
    return {
        "To": [{"OrganId": code} for code in (recipients or (RECIPIENT,))],
        "Code": {"CodeNumber": "12", "CodeNotation": "UBND-VP"},
        "PromulgationInfo": {"Place": "Quảng Ninh", "PromulgationDate": "2024-03-15"},
        "DocumentType": {"Type": "1", "TypeName": "Công văn"},
        "Subject": subject,
        "SignerInfo": {"Position": "Chủ tịch", "FullName": "Nguyễn Văn A"},
        "DueDate": "2024/03/30",
    }


def post_document(
    ingest: Ingest,
    pdf: bytes | None,
    meta: Any = None,
    *,
    agency: str = SENDER,
    key: str | None = None,
    headers: dict[str, str] | None = None,
) -> TestResponse:
    data: dict[str, Any] = {}
    if pdf is not None:
        data["file"] = (io.BytesIO(pdf), "cong-van.pdf", "application/pdf")
    if meta is not None:
        data["metadata"] = meta if isinstance(meta, str) else json.dumps(meta)
    sent = dict(ingest.auth(agency) if headers is None else headers)
    if key is not None:
        sent["Idempotency-Key"] = key
    return ingest.client.post(
        "/v1/documents", data=data, headers=sent, content_type="multipart/form-data"
    )


def assert_problem(response: TestResponse, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    problem = response.get_json()
    assert isinstance(problem, dict)
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]
    if code is not None:
        assert problem["code"] == code
    return problem


def assert_nothing_stored(ingest: Ingest, outbox_before: int) -> None:
    assert ingest.count(Document) == 0
    assert ingest.count(BUS.outbox) == outbox_before
    assert ingest.announced("document.received") == []
    assert ingest.stored_objects() == []
    assert ingest.spooled_files() == []


# --- posting documents -----------------------------------------------------------------


def test_post_a_document(ingest: Ingest) -> None:
    pdf = FOUR_PAGES.read_bytes()
    response = post_document(ingest, pdf, metadata(RECIPIENT, THIRD))

    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert uuid.UUID(body["id"])
    assert body["document_id"] == f"{SENDER},2024/03/15,12/UBND-VP"
    assert body["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert body["size"] == len(pdf)
    assert body["page_count"] == 4
    assert response.headers["Location"] == f"/v1/documents/{body['id']}"
    assert "Idempotent-Replayed" not in response.headers
    # Recorded, stored by its hash, announced once; the spool is cleaned up.
    assert ingest.count(Document) == 1
    objects = ingest.stored_objects()
    assert [p.name for p in objects] == [body["sha256"]]
    assert objects[0].read_bytes() == pdf
    assert ingest.spooled_files() == []
    [announced] = ingest.announced("document.received")
    assert announced["payload"]["document"] == body["id"]
    assert announced["payload"]["recipients"] == [RECIPIENT, THIRD]
    assert announced["payload"]["sha256"] == body["sha256"]
    assert announced["payload"]["metadata"]["PromulgationInfo"]["PromulgationDate"] == "2024/03/15"


def test_the_sender_reads_its_document_back(ingest: Ingest) -> None:
    pdf = SMALL_PDF.read_bytes()
    doc = post_document(ingest, pdf, metadata(RECIPIENT, THIRD)).get_json()

    response = ingest.client.get(f"/v1/documents/{doc['id']}", headers=ingest.auth(SENDER))

    assert response.status_code == 200
    view = response.get_json()
    assert view["id"] == doc["id"]
    assert view["from"] == SENDER
    assert view["document_id"] == doc["document_id"]
    assert view["metadata"]["From"]["OrganId"] == SENDER
    assert [d["OrganId"] for d in view["deliveries"]] == [RECIPIENT, THIRD]
    assert all(d["status"] is None for d in view["deliveries"])  # not delivered yet


def test_idempotency_key_replay_returns_the_same_document(ingest: Ingest) -> None:
    pdf = SMALL_PDF.read_bytes()
    first = post_document(ingest, pdf, metadata(), key="cv-12-2024")
    again = post_document(ingest, pdf, metadata(), key="cv-12-2024")

    assert first.status_code == 201
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json() == first.get_json()
    assert ingest.count(Document) == 1
    assert len(ingest.announced("document.received")) == 1


@pytest.mark.parametrize("change", ["file", "metadata"])
def test_idempotency_key_reused_for_something_else_conflicts(ingest: Ingest, change: str) -> None:
    assert post_document(ingest, SMALL_PDF.read_bytes(), metadata(), key="k-1").status_code == 201
    pdf = FOUR_PAGES.read_bytes() if change == "file" else SMALL_PDF.read_bytes()
    meta = metadata(subject="Một trích yếu khác") if change == "metadata" else metadata()

    response = post_document(ingest, pdf, meta, key="k-1")

    assert_problem(response, 409, "conflict")
    assert ingest.count(Document) == 1
    assert len(ingest.announced("document.received")) == 1


def test_idempotency_keys_belong_to_one_sender(ingest: Ingest) -> None:
    pdf = SMALL_PDF.read_bytes()
    mine = post_document(ingest, pdf, metadata(RECIPIENT), key="same-key")
    theirs = post_document(ingest, pdf, metadata(SENDER), agency=RECIPIENT, key="same-key")
    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert mine.get_json()["id"] != theirs.get_json()["id"]


def test_metadata_may_come_as_a_file_part(ingest: Ingest) -> None:
    response = ingest.client.post(
        "/v1/documents",
        data={
            "file": (io.BytesIO(SMALL_PDF.read_bytes()), "cv.pdf", "application/pdf"),
            "metadata": (
                io.BytesIO(json.dumps(metadata()).encode()),
                "metadata.json",
                "application/json",
            ),
        },
        headers=ingest.auth(SENDER),
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["document_id"] == f"{SENDER},2024/03/15,12/UBND-VP"


def _truncated() -> bytes:
    return SMALL_PDF.read_bytes()[:3000]


BAD_POSTS: dict[str, tuple[Any, Any, str, str | None]] = {
    # case: (file bytes or a loader, metadata, problem code, field named in errors)
    "not-a-pdf": (b"Just some text, not a PDF at all.\n" * 10, metadata(), "not_a_pdf", None),
    "empty-file": (b"", metadata(), "not_a_pdf", None),
    "truncated-pdf": (_truncated, metadata(), "not_a_pdf", None),
    "password-protected-pdf": (PASSWORD_PDF, metadata(), "encrypted_pdf", None),
    "unknown-recipient": (
        SMALL_PDF,
        metadata("000.00.00.X99"),
        "validation_failed",
        "To[0].OrganId",
    ),
    "recipient-is-sender": (SMALL_PDF, metadata(SENDER), "validation_failed", "To[0].OrganId"),
    "missing-subject": (SMALL_PDF, metadata(subject=""), "validation_failed", "Subject"),
    "missing-metadata": (SMALL_PDF, None, "validation_failed", "metadata"),
    "metadata-not-json": (SMALL_PDF, "{'To': oops", "validation_failed", "metadata"),
    "metadata-not-an-object": (SMALL_PDF, "[1, 2, 3]", "validation_failed", None),
    "missing-file": (None, metadata(), "validation_failed", "file"),
}


@pytest.mark.parametrize("case", list(BAD_POSTS))
def test_bad_posts_are_422_and_store_nothing(ingest: Ingest, case: str) -> None:
    source, meta, code, field_name = BAD_POSTS[case]
    if isinstance(source, Path):
        pdf: bytes | None = source.read_bytes()
    elif callable(source):
        pdf = source()
    else:
        pdf = source
    outbox_before = ingest.count(BUS.outbox)

    response = post_document(ingest, pdf, meta, key=f"key-{case}")

    problem = assert_problem(response, 422, code)
    assert problem["instance"] == "/v1/documents"
    if field_name is not None:
        assert field_name in [e["field"] for e in problem["errors"]]
    assert_nothing_stored(ingest, outbox_before)


def test_an_upload_over_the_limit_is_413_and_stores_nothing(ingest: Ingest) -> None:
    pdf = LARGE_PDF.read_bytes()
    assert len(pdf) > MAX_UPLOAD
    outbox_before = ingest.count(BUS.outbox)

    response = post_document(ingest, pdf, metadata())

    problem = assert_problem(response, 413, "payload_too_large")
    assert str(MAX_UPLOAD) in problem["detail"]
    assert_nothing_stored(ingest, outbox_before)


def test_a_request_far_over_the_limit_is_413(ingest: Ingest) -> None:
    huge = b"%PDF-1.7\n" + b"0" * (MAX_UPLOAD + 1024 * 1024 + 10)
    outbox_before = ingest.count(BUS.outbox)

    response = post_document(ingest, huge, metadata())

    assert_problem(response, 413)
    assert_nothing_stored(ingest, outbox_before)


def test_a_blank_idempotency_key_is_a_bad_request(ingest: Ingest) -> None:
    response = post_document(ingest, SMALL_PDF.read_bytes(), metadata(), key="   ")
    assert_problem(response, 400, "bad_request")
    assert ingest.count(Document) == 0


# --- authentication and authorization -------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer lt_not-a-real-key"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "lt_not-a-real-key"},
        {"X-Api-Key": "anything"},
    ],
    ids=["none", "wrong-key", "empty-bearer", "basic", "no-scheme", "other-header"],
)
def test_missing_or_wrong_key_is_401(ingest: Ingest, headers: dict[str, str]) -> None:
    assert_problem(ingest.client.get("/v1/inbox", headers=headers), 401, "unauthorized")
    response = post_document(ingest, SMALL_PDF.read_bytes(), metadata(), headers=headers)
    assert_problem(response, 401, "unauthorized")
    assert ingest.count(Document) == 0


def test_a_revoked_key_is_401_once_no_longer_remembered(ingest: Ingest) -> None:
    clock = [0.0]
    # The app's key cache, on a clock the test moves (it remembers nothing yet).
    ingest.ctx.api_keys.ttl, ingest.ctx.api_keys.clock = 10.0, lambda: clock[0]
    assert ingest.client.get("/v1/inbox", headers=ingest.auth(THIRD)).status_code == 200
    assert revoke_api_keys(ingest.ctx.db, THIRD, "unit") == 1
    clock[0] = 10.5
    assert_problem(ingest.client.get("/v1/inbox", headers=ingest.auth(THIRD)), 401)


def test_an_agency_outside_the_exchange_cannot_read_it(ingest: Ingest) -> None:
    doc = post_document(ingest, SMALL_PDF.read_bytes(), metadata(RECIPIENT)).get_json()

    for path in (f"/v1/documents/{doc['id']}", f"/v1/documents/{doc['id']}/content"):
        assert_problem(ingest.client.get(path, headers=ingest.auth(THIRD)), 403, "forbidden")
        assert ingest.client.get(path, headers=ingest.auth(RECIPIENT)).status_code == 200
        assert ingest.client.get(path, headers=ingest.auth(SENDER)).status_code == 200


@pytest.mark.parametrize("doc_id", [str(uuid.uuid4()), "not-a-uuid", "1"])
def test_unknown_documents_are_404(ingest: Ingest, doc_id: str) -> None:
    response = ingest.client.get(f"/v1/documents/{doc_id}", headers=ingest.auth(SENDER))
    assert_problem(response, 404, "not_found")


# --- unauthenticated endpoints ------------------------------------------------------------------


def _normalized(path: str) -> str:
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


def test_openapi_needs_no_key_and_lists_every_route(ingest: Ingest) -> None:
    response = ingest.client.get("/openapi.json")

    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    documented = {
        (_normalized(path), method.upper())
        for path, operations in spec["paths"].items()
        for method in operations
    }
    served = {
        (_normalized(rule.rule), method)
        for rule in ingest.app.url_map.iter_rules()
        if rule.endpoint.startswith(("ingest_api.", "health.")) and rule.rule != "/openapi.json"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert ("/v1/documents", "POST") in served
    assert served <= documented


def test_healthz(ingest: Ingest) -> None:
    response = ingest.client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok", "storage": "ok"}}


# --- the recipient's side: inbox, content, status ----------------------------------------


def dispatched_message(doc: dict[str, Any], delivery_id: str, recipient: str) -> DeliveryDispatched:
    """routing's copy of ``doc`` for ``recipient``, as it reaches the recipient's queue."""
    return DeliveryDispatched(
        delivery_id=delivery_id,
        document=doc["id"],
        document_id=doc["document_id"],
        sender=SENDER,
        recipient=recipient,
        sha256=doc["sha256"],
        size=doc["size"],
        subject="Về việc triển khai dịch vụ công",
        dispatched_at=datetime.now(UTC).isoformat(),
    )


def _dispatch(ingest: Ingest, doc: dict[str, Any], recipient: str = RECIPIENT) -> str:
    """What the agency connector does when routing's delivery reaches the recipient's queue."""
    delivery_id = str(uuid.uuid4())
    msg = dispatched_message(doc, delivery_id, recipient)
    with ingest.ctx.db.unit_of_work() as session:
        on_delivery_dispatched(session, msg, wrap(msg))
    ingest.routing.add_delivery(delivery_id, doc["id"], SENDER, recipient)
    return delivery_id


def _inbox(ingest: Ingest, agency: str, query: str = "") -> list[dict[str, Any]]:
    response = ingest.client.get(f"/v1/inbox{query}", headers=ingest.auth(agency))
    assert response.status_code == 200
    body = response.get_json()
    assert body["agency"] == agency
    items = body["items"]
    assert isinstance(items, list)
    return items


def _report(
    ingest: Ingest, delivery_id: str, code: str, agency: str = RECIPIENT, **extra: Any
) -> TestResponse:
    return ingest.client.post(
        f"/v1/deliveries/{delivery_id}/status",
        json={"code": code, **extra},
        headers=ingest.auth(agency),
    )


def test_a_delivered_document_reaches_the_inbox_and_is_registered(ingest: Ingest) -> None:
    pdf = FOUR_PAGES.read_bytes()
    doc = post_document(ingest, pdf, metadata(RECIPIENT)).get_json()
    assert _inbox(ingest, RECIPIENT) == []  # not delivered yet

    delivery_id = _dispatch(ingest, doc)

    [item] = _inbox(ingest, RECIPIENT)
    assert item["delivery_id"] == delivery_id
    assert item["id"] == doc["id"]
    assert item["document_id"] == doc["document_id"]
    assert item["from"] == SENDER
    assert item["status"] == "01"
    assert item["received_at"]
    assert _inbox(ingest, THIRD) == []
    assert _inbox(ingest, SENDER) == []
    assert [a["payload"]["delivery_id"] for a in ingest.announced("delivery.arrived")] == [
        delivery_id
    ]

    content = ingest.client.get(
        f"/v1/documents/{doc['id']}/content", headers=ingest.auth(RECIPIENT)
    )
    assert content.status_code == 200
    assert content.mimetype == "application/pdf"
    assert content.get_data() == pdf
    assert content.headers["ETag"] == f'"{doc["sha256"]}"'
    assert int(content.headers["Content-Length"]) == len(pdf)

    staff = {"Department": "Văn thư", "Staff": "Trần Thị B"}
    registered = _report(ingest, delivery_id, "03", description="Đã vào sổ", staff=staff)

    assert registered.status_code == 200, registered.get_data(as_text=True)
    assert registered.get_json()["status"] == "03"
    assert registered.get_json()["event"] == "03"
    [(reported_id, report)] = ingest.routing.reports
    assert reported_id == delivery_id
    assert report["code"] == "03"
    assert report["reported_by"] == RECIPIENT
    assert report["description"] == "Đã vào sổ"
    assert report["staff"] == staff
    assert report["arrived_at"]
    for agency in (RECIPIENT, SENDER):
        view = ingest.client.get(f"/v1/documents/{doc['id']}", headers=ingest.auth(agency))
        [delivery] = view.get_json()["deliveries"]
        assert (delivery["OrganId"], delivery["delivery_id"], delivery["status"]) == (
            RECIPIENT,
            delivery_id,
            "03",
        )
    assert [i["status"] for i in _inbox(ingest, RECIPIENT)] == ["03"]
    assert _inbox(ingest, RECIPIENT, "?status=01") == []
    assert len(_inbox(ingest, RECIPIENT, "?status=03")) == 1


@pytest.mark.parametrize("limit", ["abc", "1.5"])
def test_a_bad_inbox_limit_is_400(ingest: Ingest, limit: str) -> None:
    response = ingest.client.get(f"/v1/inbox?limit={limit}", headers=ingest.auth(RECIPIENT))
    assert_problem(response, 400, "bad_request")


def test_the_inbox_limit_is_applied(ingest: Ingest) -> None:
    for _ in range(3):
        doc = post_document(ingest, SMALL_PDF.read_bytes(), metadata(RECIPIENT)).get_json()
        _dispatch(ingest, doc)
    assert len(_inbox(ingest, RECIPIENT)) == 3
    assert len(_inbox(ingest, RECIPIENT, "?limit=2")) == 2


def test_a_delivery_dispatched_twice_arrives_once(ingest: Ingest) -> None:
    doc = post_document(ingest, SMALL_PDF.read_bytes(), metadata(RECIPIENT)).get_json()
    delivery_id = _dispatch(ingest, doc)
    msg = dispatched_message(doc, delivery_id, RECIPIENT)  # the broker delivers it again
    with ingest.ctx.db.unit_of_work() as session:
        on_delivery_dispatched(session, msg, wrap(msg))

    assert len(_inbox(ingest, RECIPIENT)) == 1
    assert ingest.count(Delivery) == 1
    assert len(ingest.announced("delivery.arrived")) == 1


def test_an_impossible_status_is_409_and_changes_nothing(ingest: Ingest) -> None:
    doc = post_document(ingest, SMALL_PDF.read_bytes(), metadata(RECIPIENT)).get_json()
    delivery_id = _dispatch(ingest, doc)
    assert _report(ingest, delivery_id, "03").status_code == 200

    assert_problem(_report(ingest, delivery_id, "02"), 409, "transition_rejected")

    assert [i["status"] for i in _inbox(ingest, RECIPIENT)] == ["03"]
    assert _report(ingest, delivery_id, "06").get_json()["status"] == "06"


@pytest.mark.parametrize("code", ["01", "13", "07", "", None, 3])
def test_codes_a_recipient_cannot_report_are_422(ingest: Ingest, code: Any) -> None:
    doc = post_document(ingest, SMALL_PDF.read_bytes(), metadata(RECIPIENT)).get_json()
    delivery_id = _dispatch(ingest, doc)

    assert_problem(_report(ingest, delivery_id, code), 422, "validation_failed")
    assert ingest.routing.reports == []


def test_status_reports_only_from_the_recipient_of_an_arrived_delivery(ingest: Ingest) -> None:
    doc = post_document(ingest, SMALL_PDF.read_bytes(), metadata(RECIPIENT)).get_json()
    delivery_id = _dispatch(ingest, doc)

    assert_problem(_report(ingest, delivery_id, "03", agency=SENDER), 403)
    assert_problem(_report(ingest, delivery_id, "03", agency=THIRD), 403)
    assert_problem(_report(ingest, str(uuid.uuid4()), "03"), 404)
    assert ingest.routing.reports == []


def test_a_status_body_that_is_not_json_is_400(ingest: Ingest) -> None:
    response = ingest.client.post(
        f"/v1/deliveries/{uuid.uuid4()}/status", data="code=03", headers=ingest.auth(RECIPIENT)
    )
    assert_problem(response, 400, "bad_request")
