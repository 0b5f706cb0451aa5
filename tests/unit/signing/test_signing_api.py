"""Signing's HTTP API through Flask's test client: create_app on SQLite, a local object
directory and kombu's memory transport (nothing is relayed), the kit's PKI directory.
Documents arrive as ingest announces them: a DocumentReceived verified first, then
recorded inside a unit of work, through signing's subscriptions as the bus consumer
does."""

from __future__ import annotations

import contextlib
import hashlib
import io
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from kombu import Connection, Exchange, Producer, Queue
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from services.common.bus.consumer import BusConsumer, Subscriptions
from services.common.bus.envelope import Envelope, Message, wrap
from services.common.bus.messages import DocumentReceived
from services.common.contract import Verdict
from services.common.storage import spool
from services.common.wiring import Runtime, context_of, migrate, runtime_of
from services.signing import consumers
from services.signing.app import create_app
from services.signing.appearance import Profile
from services.signing.arrival import ArrivalVerification
from services.signing.context import SigningContext
from services.signing.models import BUS, KnownDocument
from services.signing.pades import Level
from services.signing.settings import SigningSettings
from services.signing.verification.model import VerificationReport
from services.signing.verification.sources import PdfSource
from testkit.official_doc import official_letter
from testkit.stack import CORPUS
from tests.unit.signing.kit import (
    AGENCY,
    LEADER,
    ORGANIZATION,
    SigningKit,
    pdftotext,
    provision,
    settings_for,
)

TOKEN = "unit-service-token-0123456789"
PROBLEM_JSON = "application/problem+json"


@dataclass
class Signing:
    client: FlaskClient
    ctx: SigningContext
    runtime: Runtime

    @property
    def auth(self) -> dict[str, str]:
        """The platform's service token, as the settings hold it."""
        return {"Authorization": f"Bearer {self.ctx.settings.common.service_token}"}

    def outbox(self, event: str) -> list[dict[str, Any]]:
        outbox = BUS.outbox
        with self.ctx.db.reading() as session:
            rows = session.execute(
                sa.select(outbox.c.body).where(outbox.c.routing_key == event).order_by(outbox.c.id)
            ).all()
        return [row.body for row in rows]

    def stored(self, sha256: str) -> bytes:
        return b"".join(self.ctx.store.iter_bytes(sha256))

    def announce(self, pdf: bytes, metadata: dict[str, Any] | None = None) -> DocumentReceived:
        """Store a document and make the message ingest announces it with."""
        upload = spool(io.BytesIO(pdf), self.ctx.spool_dir, len(pdf) + 1)
        try:
            stored = self.ctx.store.put(upload)
        finally:
            upload.discard()
        return DocumentReceived(
            document=str(uuid.uuid4()),
            document_id=f"{AGENCY},2026/11/21,15/UBND-VP",
            sender=AGENCY,
            recipients=("000.00.01.H41",),
            sha256=stored.sha256,
            size=stored.size,
            received_at=datetime.now(UTC).isoformat(),
            metadata=metadata if metadata is not None else _metadata(),
            **RECEIVED_FIELDS,
        )

    def receive(self, pdf: bytes, metadata: dict[str, Any] | None = None) -> str:
        """Store a document and announce it, as ingest does; returns its id."""
        message = self.announce(pdf, metadata)
        arrival = ArrivalVerification(
            self.ctx.db, self.ctx.store, self.ctx.verifier, self.ctx.spool_dir
        )
        subscriptions = consumers.subscriptions(arrival)
        assert subscriptions.outside_transaction is not None
        subscriptions.outside_transaction([message])
        with self.ctx.db.unit_of_work() as session:
            subscriptions.handlers[DocumentReceived](session, message, wrap(message))
        return message.document

    def sign(self, document: str, body: dict[str, Any], **headers: str) -> TestResponse:
        return self.client.post(
            f"/v1/documents/{document}/signatures", json=body, headers={**self.auth, **headers}
        )


# The typed fields of DocumentReceived v2 this service does not read.
RECEIVED_FIELDS: dict[str, Any] = {
    "subject": "Công văn 15/UBND-VP",
    "priority": 0,
    "due_date": None,
    "paper": 0,
    "business_doc_type": 0,
    "supersedes": None,
    "business_reason": "",
}


def _metadata() -> dict[str, Any]:
    return {
        "Code": {"CodeNumber": "15", "CodeNotation": "UBND-VP"},
        "SignerInfo": {"Position": "Chủ tịch", "FullName": LEADER},
    }


@pytest.fixture(scope="module")
def signing(kit: SigningKit, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signing]:
    data_dir = tmp_path_factory.mktemp("signing-api") / "data"
    settings = settings_for(
        data_dir,
        kit.settings.pki_dir,
        LIENTHONG_SIGNING_PUBLIC_URL=kit.public_url,
        LIENTHONG_BROKER_URL="memory://",
        LIENTHONG_SERVICE_TOKEN=TOKEN,
    )
    with running(settings) as service:
        yield service


@contextlib.contextmanager
def running(settings: SigningSettings) -> Iterator[Signing]:
    """Signing's app on ``settings``, migrated and provisioned; closed at the end."""
    migrate("signing", settings.database_url)
    app = create_app(settings)
    app.config["TESTING"] = True
    ctx = context_of(app, SigningContext)
    runtime = runtime_of(app)
    provision(ctx.pki, ctx.signing)
    try:
        yield Signing(app.test_client(), ctx, runtime)
    finally:
        for close in runtime.on_close:
            close()
        ctx.db.dispose()


@pytest.fixture(scope="module")
def certified_copy(kit: SigningKit) -> bytes:
    """The letter as a certified copy: one organization signature, B-T."""
    path, _ = kit.sign(kit.letter(), Profile.COPY, Level.B_T)
    return path.read_bytes()


@pytest.fixture(scope="module")
def sealed_letter(kit: SigningKit) -> bytes:
    """The letter as issued: the leader's signature, then the seal."""
    personal, _ = kit.sign(kit.letter(), Profile.PERSONAL, Level.B_T)
    sealed, _ = kit.sign(personal, Profile.ORGANIZATION, Level.B_T)
    return sealed.read_bytes()


def assert_problem(response: TestResponse, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    problem = response.get_json()
    assert isinstance(problem, dict)
    assert problem["status"] == status and problem["title"] and problem["detail"]
    if code is not None:
        assert problem["code"] == code
    return problem


# --- POST /v1/verify ---------------------------------------------------------------------------


def test_verify_needs_the_service_token(signing: Signing, certified_copy: bytes) -> None:
    for headers in ({}, {"Authorization": "Bearer not-the-service-token"}):
        response = signing.client.post(
            "/v1/verify",
            data=certified_copy,
            headers={**headers, "Content-Type": "application/pdf"},
        )
        assert_problem(response, 401)
    assert_problem(signing.sign(str(uuid.uuid4()), {}, Authorization="Bearer nope"), 401)


def test_verify_a_multipart_upload(signing: Signing, certified_copy: bytes) -> None:
    response = signing.client.post(
        "/v1/verify",
        data={"file": (io.BytesIO(certified_copy), "ban-sao.pdf", "application/pdf")},
        headers=signing.auth,
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    report = response.get_json()
    assert report["verdict"] == "valid", report["reasons"]
    assert report["sha256"] == hashlib.sha256(certified_copy).hexdigest()
    assert report["file_name"] == "ban-sao.pdf"  # the upload's name, not the spool file's
    (signature,) = report["signatures"]
    assert (signature["field_name"], signature["pades_level"]) == ("copy-1", "B-T")
    assert signature["signer"]["common_name"] == ORGANIZATION


def test_verify_a_raw_body_as_json_and_html(signing: Signing, certified_copy: bytes) -> None:
    headers = {**signing.auth, "Content-Type": "application/pdf"}
    as_json = signing.client.post("/v1/verify", data=certified_copy, headers=headers)
    assert as_json.status_code == 200
    assert as_json.mimetype == "application/json"
    assert as_json.get_json()["verdict"] == "valid"
    as_html = signing.client.post("/v1/verify?format=html", data=certified_copy, headers=headers)
    assert as_html.status_code == 200
    assert as_html.mimetype == "text/html"
    page = as_html.get_data(as_text=True)
    assert "copy-1" in page and ORGANIZATION in page


def test_verify_says_unsigned_and_invalid(signing: Signing, certified_copy: bytes) -> None:
    headers = {**signing.auth, "Content-Type": "application/pdf"}
    unsigned = signing.client.post("/v1/verify", data=official_letter(), headers=headers)
    assert unsigned.get_json()["verdict"] == "unsigned"
    position = certified_copy.index(b"841.8898") + 7
    tampered = certified_copy[:position] + b"9" + certified_copy[position + 1 :]
    invalid = signing.client.post("/v1/verify", data=tampered, headers=headers)
    assert invalid.status_code == 200
    assert invalid.get_json()["verdict"] == "invalid"


def test_the_service_verifies_a_letter_with_signature_and_seal(
    signing: Signing, sealed_letter: bytes
) -> None:
    response = signing.client.post(
        "/v1/verify",
        data=sealed_letter,
        headers={**signing.auth, "Content-Type": "application/pdf"},
    )
    report = response.get_json()
    assert report["verdict"] == "valid", report["reasons"]
    assert [s["field_name"] for s in report["signatures"]] == ["personal-1", "organization-2"]
    document = signing.receive(sealed_letter)
    (announced,) = [
        e for e in signing.outbox("document.verified") if e["payload"]["document"] == document
    ]
    assert announced["payload"]["verdict"] == "valid"
    assert announced["payload"]["organization_signed"] is True
    assert announced["payload"]["signature_count"] == 2


def test_arrival_tells_a_scan_from_a_born_digital_document(signing: Signing) -> None:
    """Pages with images only and no text layer are a scan (for the e-share ledger)."""
    real = CORPUS / "pdf-real"
    cases = {
        "023-cmyk-image/cmyk-image.pdf": True,
        "019-grayscale-image/grayscale-image.pdf": True,
        "003-pdflatex-image/pdflatex-image.pdf": False,  # an image beside text
        "002-trivial-libre-office-writer/002-trivial-libre-office-writer.pdf": False,
    }
    for name, scanned in cases.items():
        document = signing.receive((real / name).read_bytes())
        (announced,) = [
            e for e in signing.outbox("document.verified") if e["payload"]["document"] == document
        ]
        assert announced["payload"]["scanned"] is scanned, name


def test_prometheus_metrics(signing: Signing) -> None:
    signing.client.get(f"/v1/documents/{uuid.uuid4()}/verification", headers=signing.auth)
    text = signing.client.get("/metrics").get_data(as_text=True)
    assert 'route="/v1/documents/<doc_id>/verification",service="signing",status="404"' in text
    assert 'lienthong_metrics_source_up{source="signing-outbox"} 1.0' in text


def test_verify_refuses_an_empty_file_and_a_missing_one(signing: Signing) -> None:
    empty_upload = signing.client.post(
        "/v1/verify",
        data={"file": (io.BytesIO(b""), "empty.pdf", "application/pdf")},
        headers=signing.auth,
        content_type="multipart/form-data",
    )
    assert_problem(empty_upload, 422, "validation_failed")
    empty_body = signing.client.post(
        "/v1/verify", data=b"", headers={**signing.auth, "Content-Type": "application/pdf"}
    )
    assert_problem(empty_body, 422, "validation_failed")
    not_a_pdf = signing.client.post(
        "/v1/verify", data=b"{}", headers={**signing.auth, "Content-Type": "application/json"}
    )
    assert_problem(not_a_pdf, 400)
    assert list(signing.ctx.spool_dir.glob("upload-*")) == []  # nothing left behind


# --- arrival, then signing ------------------------------------------------------------------------


def test_the_verdict_on_arrival_is_kept_and_announced(
    signing: Signing, certified_copy: bytes
) -> None:
    document = signing.receive(certified_copy)
    response = signing.client.get(f"/v1/documents/{document}/verification", headers=signing.auth)
    assert response.status_code == 200
    stored = response.get_json()
    assert stored["verdict"] == "valid", stored["reasons"]
    assert stored["sha256"] == hashlib.sha256(certified_copy).hexdigest()
    assert [s["field_name"] for s in stored["signatures"]] == ["copy-1"]
    (announced,) = [
        e for e in signing.outbox("document.verified") if e["payload"]["document"] == document
    ]
    assert announced["payload"]["verdict"] == "valid"
    assert announced["payload"]["organization_signed"] is True
    assert announced["payload"]["signature_count"] == 1
    assert (announced["version"], announced["payload"]["scanned"]) == (2, False)
    again = signing.client.get(f"/v1/documents/{document}/verification", headers=signing.auth)
    assert again.get_json() == stored  # stored on arrival, not verified again
    missing = signing.client.get(f"/v1/documents/{uuid.uuid4()}/verification", headers=signing.auth)
    assert_problem(missing, 404)


class WatchedVerifier:
    """The service's verifier, noting whether a transaction was open at each call."""

    def __init__(self, signing: Signing, monkeypatch: pytest.MonkeyPatch) -> None:
        self.inner = signing.ctx.verifier
        self.in_transaction: list[bool] = []
        self.open = 0
        db = signing.ctx.db
        unit_of_work = db.unit_of_work

        @contextmanager
        def watched() -> Iterator[Session]:
            self.open += 1
            try:
                with unit_of_work() as session:
                    yield session
            finally:
                self.open -= 1

        monkeypatch.setattr(db, "unit_of_work", watched)

    def verify(self, source: PdfSource, *, file_name: str | None = None) -> VerificationReport:
        self.in_transaction.append(self.open > 0)
        return self.inner.verify(source, file_name=file_name)


def _known(signing: Signing, messages: list[DocumentReceived]) -> dict[str, str | None]:
    with signing.ctx.db.reading() as session:
        rows = session.scalars(
            sa.select(KnownDocument).where(KnownDocument.id.in_([m.document for m in messages]))
        )
        return {row.id: row.verdict for row in rows}


def _consume(signing: Signing, subscriptions: Subscriptions, messages: list[Message]) -> None:
    """Signing's consumer applying ``messages`` as one batch from a private queue."""
    connection = Connection("memory://")
    name = f"lt.unit.{uuid.uuid4().hex}"
    queue = Queue(name, exchange=Exchange(name, type="direct"), routing_key="k")
    queue(connection.default_channel).declare()
    consumer = BusConsumer(
        consumers.CONSUMER_NAME, signing.ctx.db, BUS, connection, subscriptions, lambda: [queue]
    )
    producer = Producer(connection.default_channel)
    for msg in messages:
        producer.publish(
            wrap(msg).to_json(), exchange=queue.exchange, routing_key="k", serializer="json"
        )
    bound = queue(connection.default_channel)
    raws = []
    while (raw := bound.get(no_ack=False)) is not None:
        raws.append(raw)
    consumer.on_batch(raws)
    assert bound.get() is None  # all acknowledged
    connection.release()


def test_documents_are_verified_before_the_consumers_transaction(
    signing: Signing, certified_copy: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch is verified first, then recorded in a short transaction (issue 9 §4)."""
    watched = WatchedVerifier(signing, monkeypatch)
    arrival = ArrivalVerification(signing.ctx.db, signing.ctx.store, watched, signing.ctx.spool_dir)
    batch = [signing.announce(certified_copy), signing.announce(official_letter())]
    _consume(signing, consumers.subscriptions(arrival), list(batch))
    assert watched.in_transaction == [False, False]
    assert _known(signing, batch) == {batch[0].document: "valid", batch[1].document: "unsigned"}

    # Known documents are not verified again.
    _consume(signing, consumers.subscriptions(arrival), list(batch))
    assert watched.in_transaction == [False, False]


def test_a_batch_retried_one_by_one_is_verified_outside_the_transaction_too(
    signing: Signing, certified_copy: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    watched = WatchedVerifier(signing, monkeypatch)
    arrival = ArrivalVerification(signing.ctx.db, signing.ctx.store, watched, signing.ctx.spool_dir)
    batch = [signing.announce(certified_copy), signing.announce(certified_copy)]
    failed: list[str] = []

    def fails_once(session: Session, msg: DocumentReceived, envelope: Envelope) -> None:
        if msg.document == batch[1].document and not failed:
            failed.append(msg.document)
            raise RuntimeError("the batch breaks here")
        arrival.on_document_received(session, msg, envelope)

    wired = consumers.subscriptions(arrival)
    _consume(signing, replace(wired, handlers={DocumentReceived: fails_once}), list(batch))
    assert failed == [batch[1].document]
    # The batch (two documents), then each message alone, verified again before its
    # own transaction: nothing the failed transaction held is reused.
    assert watched.in_transaction == [False] * 4
    assert _known(signing, batch) == {m.document: "valid" for m in batch}


def test_signing_makes_versions_two_then_three(signing: Signing, kit: SigningKit) -> None:
    original = official_letter()
    document = signing.receive(original)
    arrival = signing.client.get(f"/v1/documents/{document}/verification", headers=signing.auth)
    assert arrival.get_json()["verdict"] == "unsigned"

    first = signing.sign(
        document, {"profile": "personal", "agency": AGENCY, "person": LEADER, "level": "B-T"}
    )
    assert first.status_code == 201, first.get_data(as_text=True)
    v2 = first.get_json()
    assert (v2["document"], v2["version"], v2["field_name"]) == (document, 2, "personal-1")
    assert (v2["profile"], v2["level"]) == ("personal", "B-T")
    assert v2["previous_sha256"] == hashlib.sha256(original).hexdigest()
    v2_bytes = signing.stored(v2["sha256"])
    assert hashlib.sha256(v2_bytes).hexdigest() == v2["sha256"] and len(v2_bytes) == v2["size"]
    assert v2_bytes.startswith(original)  # an incremental update of what arrived

    second = signing.sign(document, {"profile": "organization", "agency": AGENCY})
    assert second.status_code == 201, second.get_data(as_text=True)
    v3 = second.get_json()
    assert (v3["version"], v3["field_name"], v3["level"]) == (3, "organization-2", "B-LT")
    assert v3["previous_sha256"] == v2["sha256"]
    v3_bytes = signing.stored(v3["sha256"])
    assert v3_bytes.startswith(v2_bytes)
    assert signing.stored(hashlib.sha256(original).hexdigest()) == original  # kept

    report = kit.verifier().verify(v3_bytes)
    assert report.verdict == Verdict.VALID, report.reasons
    assert [s.field_name for s in report.signatures] == ["personal-1", "organization-2"]

    events = [
        e["payload"]
        for e in signing.outbox("document.signed")
        if e["payload"]["document"] == document
    ]
    assert [(e["version"], e["sha256"], e["previous_sha256"]) for e in events] == [
        (2, v2["sha256"], v2["previous_sha256"]),
        (3, v3["sha256"], v2["sha256"]),
    ]
    assert events[0]["signer"].startswith(f"CN={LEADER}")
    assert events[1]["field_name"] == "organization-2"


def test_an_attachment_stamp_names_the_document(signing: Signing, tmp_path: Path) -> None:
    """sign_document takes the document's number from its metadata."""
    document = signing.receive(official_letter())
    response = signing.sign(document, {"profile": "attachment", "agency": AGENCY, "level": "B-B"})
    assert response.status_code == 201, response.get_data(as_text=True)
    signed = tmp_path / "attachment.pdf"
    signed.write_bytes(signing.stored(response.get_json()["sha256"]))
    assert "Kèm theo văn bản số 15/UBND-VP" in pdftotext(signed)


def _copy(**extra: Any) -> dict[str, Any]:
    return {"profile": "copy", "agency": AGENCY, **extra}


FREE = [85, 400, 300, 460]  # a free area of the letter, in points
BAD_REQUESTS: dict[str, tuple[dict[str, Any], str | None]] = {
    "unknown profile": ({"profile": "boss", "agency": AGENCY}, "profile"),
    "no profile": ({"agency": AGENCY}, "profile"),
    "unknown level": (_copy(level="B-X"), None),
    "no agency": ({"profile": "copy"}, "agency"),
    "box of three": (_copy(page=1, box=[1, 2, 3]), "box"),
    "box of text": (_copy(page=1, box=["a", "b", "c", "d"]), "box"),
    "box without page": (_copy(box=FREE), "page"),
    "inverted box": (_copy(page=1, box=[300, 460, 85, 400]), None),
    "page zero": (_copy(page=0, box=FREE), "page"),
    "page beyond": (_copy(page=2, box=FREE), None),
    "box off the page": (_copy(page=1, box=[500, 400, 700, 460]), None),
    "box over the text": (_copy(page=1, box=[80, 580, 300, 700]), "box"),
}


@pytest.fixture(scope="module")
def received_letter(signing: Signing) -> str:
    return signing.receive(official_letter())


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_signing_requests_are_422(signing: Signing, received_letter: str, case: str) -> None:
    body, field = BAD_REQUESTS[case]
    before = len(signing.outbox("document.signed"))
    problem = assert_problem(signing.sign(received_letter, body), 422)
    if field is not None:
        assert field in [e["field"] for e in problem.get("errors", [])], problem
    assert len(signing.outbox("document.signed")) == before  # nothing signed, nothing said


def test_signing_needs_a_known_document_and_a_json_body(signing: Signing) -> None:
    assert_problem(signing.sign(str(uuid.uuid4()), {"profile": "copy", "agency": AGENCY}), 404)
    raw = signing.client.post(
        f"/v1/documents/{uuid.uuid4()}/signatures",
        data="profile=copy",
        headers={**signing.auth, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_problem(raw, 400)


def test_a_revoked_certificate_is_409(signing: Signing, received_letter: str) -> None:
    agency = "000.00.01.H41"  # the recipient: a party, making a copy
    record = signing.ctx.pki.issue(agency=agency, kind="organization", name="Sở Ngoại vụ")
    signing.ctx.pki.revoke(record.serial, "keyCompromise")
    problem = assert_problem(
        signing.sign(received_letter, {"profile": "copy", "agency": agency}),
        409,
        "certificate_unusable",
    )
    assert record.serial in problem["detail"]
