"""Ingest's two consumers on real PostgreSQL: the events consumer (a document's
deliveries, routing's view) and the connector (the copies landing in inboxes) insert
the same delivery rows at the same time, and must never deadlock."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from services.common.bus.consumer import each_item
from services.common.bus.envelope import Message, wrap
from services.common.bus.messages import (
    DeliveriesCreated,
    DeliveriesDispatched,
    DeliveryDispatched,
    DocumentsRouted,
)
from services.common.db import Database
from services.common.wiring import migrate
from services.ingest.consumers import lock_for_batch
from services.ingest.models import Agency, Delivery, Document
from services.ingest.projections import on_deliveries_created, on_delivery_dispatched

pytestmark = pytest.mark.integration

SENDER = "000.00.00.H41"
RECIPIENTS = ("000.00.01.H41", "000.00.02.H41", "000.00.03.H41")
ROUNDS = 25
DOCUMENTS_PER_ROUND = 12


@pytest.fixture
def ingest_db(pg_urls: dict[str, str]) -> Iterator[Database]:
    migrate("ingest", pg_urls["ingest"])
    db = Database(pg_urls["ingest"])
    with db.unit_of_work() as session:
        for code in (SENDER, *RECIPIENTS):
            if session.get(Agency, code) is None:
                session.add(Agency(code=code, name=code, created_at=datetime.now(UTC)))
    yield db
    db.dispose()


def _documents(db: Database, count: int) -> dict[str, dict[str, str]]:
    """Documents, each with a delivery id per recipient (not yet in the database)."""
    now = datetime.now(UTC)
    out: dict[str, dict[str, str]] = {}
    with db.unit_of_work() as session:
        for _ in range(count):
            doc = str(uuid.uuid4())
            session.add(
                Document(
                    id=doc,
                    document_id=f"{SENDER},2026/11/22,{doc[:6]}/UBND",
                    sender_code=SENDER,
                    recipients=list(RECIPIENTS),
                    subject="Thử",
                    sha256="ab" * 32,
                    size=10,
                    page_count=1,
                    doc_metadata={},
                    received_at=now,
                )
            )
            out[doc] = {code: str(uuid.uuid4()) for code in RECIPIENTS}
    return out


def _apply(db: Database, msg: Message, handler: Callable[..., None]) -> None:
    """What a consumer does with one (folded) message: prepare the batch, then apply."""
    with db.unit_of_work() as session:
        lock_for_batch(session, [msg])
        handler(session, msg, wrap(msg))


def test_the_events_consumer_and_the_connector_never_deadlock(ingest_db: Database) -> None:
    deadlocks: list[BaseException] = []
    other_failures: list[BaseException] = []
    now = datetime.now(UTC).isoformat()
    for _ in range(ROUNDS):
        documents = _documents(ingest_db, DOCUMENTS_PER_ROUND)
        # Routing's view: each document's deliveries in recipient order.
        routed = DocumentsRouted.of(
            [
                DeliveriesCreated(
                    document=doc,
                    sender=SENDER,
                    delivery_ids=tuple(ids[c] for c in RECIPIENTS),
                    recipients=RECIPIENTS,
                    created_at=now,
                )
                for doc, ids in documents.items()
            ]
        )
        # The connector's copies, in the opposite order.
        copies = DeliveriesDispatched.of(
            [
                DeliveryDispatched(
                    delivery_id=ids[code],
                    document=doc,
                    document_id=doc,
                    sender=SENDER,
                    recipient=code,
                    sha256="ab" * 32,
                    size=10,
                    subject="Thử",
                    dispatched_at=now,
                )
                for doc, ids in reversed(documents.items())
                for code in reversed(RECIPIENTS)
            ]
        )
        start = threading.Barrier(2)

        def run(
            msg: Message, handler: Callable[..., Any], start: threading.Barrier = start
        ) -> None:
            start.wait()
            try:
                _apply(ingest_db, msg, handler)
            except sa.exc.OperationalError as e:
                if isinstance(e.orig, psycopg.errors.DeadlockDetected):
                    deadlocks.append(e)
                else:
                    other_failures.append(e)
            except BaseException as e:
                other_failures.append(e)

        threads = [
            threading.Thread(target=run, args=(routed, each_item(on_deliveries_created))),
            threading.Thread(target=run, args=(copies, each_item(on_delivery_dispatched))),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)

    assert other_failures == []
    assert deadlocks == []
    with ingest_db.reading() as session:
        rows = session.scalars(sa.select(Delivery).where(Delivery.arrived_at.is_not(None))).all()
    assert len(rows) == ROUNDS * DOCUMENTS_PER_ROUND * len(RECIPIENTS)
