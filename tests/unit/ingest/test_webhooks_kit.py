"""Helpers shared by the test_webhooks_* modules (no tests here): an ingest app on
SQLite with three agencies, and the bus messages its projections receive."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from services.common.bus.envelope import wrap
from services.common.bus.messages import DeliveryDispatched, DeliveryStatusChanged
from services.common.contract import Status
from services.common.wiring import context_of, migrate
from services.ingest.agencies import add_agency, create_api_key, list_agencies
from services.ingest.app import create_app
from services.ingest.context import IngestContext
from services.ingest.models import Document, WebhookJob
from services.ingest.projections import on_delivery_dispatched, on_status_changed
from services.ingest.settings import IngestSettings

SENDER = "000.00.00.H41"
RECIPIENT = "000.00.01.H41"
THIRD = "000.00.02.H41"
HOOK = "https://vanban.example.gov.vn/lienthong/hook"
# What the fake resolver answers (the tests do no DNS): public addresses.
FAKE_DNS = {"vanban.example.gov.vn": ["14.225.0.10", "2402:800:20ff::10"]}


def fake_resolve(host: str) -> list[str]:
    """A resolver for AddressGuard: FAKE_DNS, or the error a missing name gives."""
    try:
        return FAKE_DNS[host.rstrip(".").lower()]
    except KeyError:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None


@dataclass
class Ingest:
    app: Flask
    client: FlaskClient
    ctx: IngestContext
    keys: dict[str, str]
    env: dict[str, str]

    def auth(self, agency: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[agency]}"}

    def register(self, agency: str, url: str = HOOK, **extra: Any) -> dict[str, Any]:
        response = self.client.put(
            "/v1/webhook", json={"url": url, **extra}, headers=self.auth(agency)
        )
        assert response.status_code in (200, 201), response.get_data(as_text=True)
        return dict(response.get_json())

    def jobs(self, agency: str | None = None) -> list[WebhookJob]:
        query = sa.select(WebhookJob).order_by(WebhookJob.created_at)
        if agency:
            query = query.where(WebhookJob.agency_code == agency)
        with self.ctx.db.reading() as session:
            return list(session.scalars(query))

    def mark(self, job_id: str, **values: Any) -> None:
        with self.ctx.db.unit_of_work() as session:
            session.execute(sa.update(WebhookJob).where(WebhookJob.id == job_id).values(**values))

    def document(self) -> str:
        doc_id = str(uuid.uuid4())
        with self.ctx.db.unit_of_work() as session:
            session.add(
                Document(
                    id=doc_id,
                    document_id=f"{SENDER},2026/11/21,{doc_id[:4]}/UBND-VP",
                    sender_code=SENDER,
                    recipients=[RECIPIENT, THIRD],
                    subject="Về việc thử",
                    sha256="ab" * 32,
                    size=10,
                    page_count=1,
                    doc_metadata={},
                    received_at=datetime.now(UTC),
                )
            )
        return doc_id


def make_ingest(tmp_path: Path, **extra: str) -> Ingest:
    env = {
        "LIENTHONG_DATA_DIR": str(tmp_path / "data"),
        "LIENTHONG_BROKER_URL": "memory://",
        **extra,
    }
    settings = IngestSettings.from_env(env)
    migrate("ingest", settings.database_url)
    app = create_app(settings)
    app.config["TESTING"] = True
    ctx = context_of(app, IngestContext)
    ctx.webhooks.guard.resolve = fake_resolve
    keys = {}
    for code, name in [(SENDER, "UBND tỉnh"), (RECIPIENT, "Sở Nội vụ"), (THIRD, "Sở Tài chính")]:
        if code not in {a.code for a in list_agencies(ctx.db)}:
            add_agency(ctx.db, code, name)
        keys[code] = create_api_key(ctx.db, code, label="unit")
    return Ingest(app, app.test_client(), ctx, keys, env)


def ingest_app(tmp_path: Path) -> Iterator[Ingest]:
    app = make_ingest(tmp_path)
    yield app
    app.ctx.db.dispose()


def dispatched(doc: str, recipient: str = RECIPIENT) -> DeliveryDispatched:
    return DeliveryDispatched(
        delivery_id=str(uuid.uuid4()),
        document=doc,
        document_id=f"{SENDER},2026/11/21,1/UBND",
        sender=SENDER,
        recipient=recipient,
        sha256="ab" * 32,
        size=10,
        subject="Về việc thử",
        dispatched_at=datetime.now(UTC).isoformat(),
    )


def status(
    msg: DeliveryDispatched, code: str, seq: int, new_status: str | None = None
) -> DeliveryStatusChanged:
    return DeliveryStatusChanged(
        delivery_id=msg.delivery_id,
        document=msg.document,
        recipient=msg.recipient,
        code=Status(code),
        status=Status(new_status or code),
        seq=seq,
        at=datetime.now(UTC).isoformat(),
        reported_by=msg.recipient,
        description="Đã vào sổ",
        staff={"Staff": "Trần Thị B"},
    )


def land(ingest: Ingest, msg: DeliveryDispatched) -> None:
    with ingest.ctx.db.unit_of_work() as session:
        on_delivery_dispatched(session, msg, wrap(msg))


def report(ingest: Ingest, msg: DeliveryStatusChanged) -> None:
    with ingest.ctx.db.unit_of_work() as session:
        on_status_changed(session, msg, wrap(msg))
