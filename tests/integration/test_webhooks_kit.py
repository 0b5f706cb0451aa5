"""Helpers for test_webhooks.py (no tests here): a scriptable HTTP receiver on loopback,
and ingest with its real workers running."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient
from kombu import Connection

from services.common.bus import topology
from services.common.bus.envelope import Message, wrap
from services.common.bus.messages import DeliveryDispatched
from services.common.runtime import Runner
from services.common.wiring import context_of, migrate, service_of
from services.ingest import projections
from services.ingest.agencies import add_agency, create_api_key, list_agencies
from services.ingest.app import create_app
from services.ingest.context import IngestContext
from services.ingest.models import Document, WebhookJob
from services.ingest.settings import IngestSettings
from services.ingest.webhooks.rules import verify_webhook_signature
from services.ingest.webhooks.worker import WebhookWorker

SENDER = "000.00.00.H41"
RECIPIENT = "000.00.01.H41"


# --- the receiver ----------------------------------------------------------------------


@dataclass
class Received:
    mode: str
    headers: dict[str, str]
    body: bytes

    def verifies(self, secret: str) -> bool:
        return verify_webhook_signature(
            secret,
            self.headers.get("X-LienThong-Timestamp"),
            self.body,
            self.headers.get("X-LienThong-Signature"),
        )


@dataclass
class Receiver:
    """A threaded http.server on 127.0.0.1. Each request takes the next mode from
    ``script`` (then ``default``): ok (200), fail (500), gone (410), hang (never
    answers until the test ends), slow (answers in dribs and drabs, in time)."""

    script: list[str] = field(default_factory=list)
    default: str = "ok"
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_mode(self) -> str:
        with self.lock:
            return self.script.pop(0) if self.script else self.default

    def count(self) -> int:
        with self.lock:
            return len(self.received)


def handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, text: bytes, chunks: int = 1, pause: float = 0.0) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            step = max(len(text) // chunks, 1)
            for i in range(0, len(text), step):
                time.sleep(pause)
                self.wfile.write(text[i : i + step])
                self.wfile.flush()

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            mode = receiver.next_mode()
            with receiver.lock:
                receiver.received.append(Received(mode, dict(self.headers.items()), body))
            try:
                if mode == "ok":
                    self._answer(200, b"ok")
                elif mode == "fail":
                    self._answer(500, b"database is down")
                elif mode == "gone":
                    self._answer(410, b"this endpoint is retired")
                elif mode == "slow":
                    time.sleep(0.2)  # each pause is well inside the read timeout
                    self._answer(200, b"received, slowly", chunks=4, pause=0.1)
                elif mode == "hang":
                    receiver.release.wait(60)
            except OSError:
                pass  # the client gave up on us: that is the point of "hang"

    return Handler


# --- ingest's workers, running --------------------------------------------------------------


@dataclass
class Stack:
    ctx: IngestContext
    client: FlaskClient
    broker_url: str
    keys: dict[str, str]

    @property
    def worker(self) -> WebhookWorker:
        return self.ctx.webhooks

    def auth(self, agency: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[agency]}"}

    def register(self, agency: str, url: str, events: list[str] | None = None) -> str:
        """Register ``url``; for every event, or only ``events``."""
        body: dict[str, Any] = {"url": url} if events is None else {"url": url, "events": events}
        response = self.client.put("/v1/webhook", json=body, headers=self.auth(agency))
        assert response.status_code == 201, response.get_data(as_text=True)
        return str(response.get_json()["secret"])

    def document(self) -> str:
        doc_id = str(uuid.uuid4())
        with self.ctx.db.unit_of_work() as session:
            session.add(
                Document(
                    id=doc_id,
                    document_id=f"{SENDER},2026/11/21,{doc_id[:6]}/UBND-VP",
                    sender_code=SENDER,
                    recipients=[RECIPIENT],
                    subject="Về việc thử nghiệm",
                    sha256="ab" * 32,
                    size=10,
                    page_count=1,
                    doc_metadata={},
                    received_at=datetime.now(UTC),
                )
            )
        return doc_id

    def land(self, msg: DeliveryDispatched) -> None:
        """What the connector does with a delivery from the agency's queue."""
        with self.ctx.db.unit_of_work() as session:
            projections.on_delivery_dispatched(session, msg, wrap(msg))

    def publish(self, msg: Message, exchange: str, routing_key: str) -> None:
        with Connection(self.broker_url, transport_options={"confirm_publish": True}) as conn:
            channel = conn.default_channel
            if exchange == topology.AGENCY.name:
                topology.agency_queue(routing_key)(channel).declare()
            conn.Producer().publish(
                wrap(msg).to_json(),
                exchange=exchange,
                routing_key=routing_key,
                serializer="json",
                delivery_mode=2,
            )

    def jobs(self, agency: str | None = None) -> list[WebhookJob]:
        query = sa.select(WebhookJob).order_by(WebhookJob.created_at)
        if agency:
            query = query.where(WebhookJob.agency_code == agency)
        with self.ctx.db.reading() as session:
            return list(session.scalars(query))

    def job(self, job_id: str) -> WebhookJob:
        with self.ctx.db.reading() as session:
            job = session.get(WebhookJob, job_id)
        assert job is not None
        return job

    def inbox(self, agency: str = RECIPIENT) -> list[dict[str, Any]]:
        response = self.client.get("/v1/inbox", headers=self.auth(agency))
        assert response.status_code == 200
        return list(response.get_json()["items"])


def eventually(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.02)


def start_ingest(env: dict[str, str], runners: list[Runner]) -> Stack:
    settings = IngestSettings.from_env(env)
    migrate("ingest", settings.database_url)
    app = create_app(settings)
    ctx = context_of(app, IngestContext)
    known = {a.code for a in list_agencies(ctx.db)}
    keys = {}
    for code, name in ((SENDER, "UBND tỉnh Nghệ An"), (RECIPIENT, "Sở Nội vụ")):
        if code not in known:
            add_agency(ctx.db, code, name)
        keys[code] = create_api_key(ctx.db, code, "integration")
    # The real workers: outbox relay, bus consumers, the connector, the webhook worker.
    runner = Runner([service_of(app, "127.0.0.1", 0)], serve_http=False)
    runner.start()
    runners.append(runner)
    return Stack(ctx, app.test_client(), settings.common.broker.url, keys)


def dispatched(doc: str) -> DeliveryDispatched:
    return DeliveryDispatched(
        delivery_id=str(uuid.uuid4()),
        document=doc,
        document_id=f"{SENDER},2026/11/21,1/UBND",
        sender=SENDER,
        recipient=RECIPIENT,
        sha256="ab" * 32,
        size=10,
        subject="Về việc thử nghiệm",
        dispatched_at=datetime.now(UTC).isoformat(),
    )


def delivered(stack: Stack, job_id: str) -> Callable[[], bool]:
    return lambda: stack.job(job_id).delivered_at is not None
