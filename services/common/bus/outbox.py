"""Transactional outbox: a message is written with the state change that causes it,
and a relay publishes it with publisher confirms only after that commit.

Publishing twice is possible (a crash between confirm and marking the row);
every consumer is idempotent by message id, so that is harmless.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from kombu import Connection, Producer
from sqlalchemy.orm import Session

from services.common.bus import topology
from services.common.bus.messages import Envelope, Message, wrap
from services.common.bus.tables import BusTables
from services.common.db import Database

log = logging.getLogger(__name__)

PENDING_FLAG = "lienthong.outbox_pending"


def add_to_outbox(
    session: Session,
    tables: BusTables,
    msg: Message,
    *,
    exchange: str,
    routing_key: str | None = None,
    message_id: str | None = None,
) -> Envelope:
    """Queue ``msg`` for publishing when ``session`` commits."""
    envelope = wrap(msg, message_id)
    session.execute(
        tables.outbox.insert().values(
            message_id=envelope.id,
            exchange=exchange,
            routing_key=routing_key or envelope.type,
            body=envelope.to_json(),
            created_at=datetime.now(UTC),
        )
    )
    session.info[PENDING_FLAG] = True
    return envelope


class OutboxRelay:
    """Publishes committed outbox rows in order, with confirms, then marks them."""

    def __init__(
        self,
        db: Database,
        tables: BusTables,
        connection: Connection,
        *,
        batch_size: int = 200,
        poll_interval: float = 0.5,
    ) -> None:
        self.db = db
        self.tables = tables
        self.connection = connection
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self._wake = threading.Event()
        self._declared: set[str] = set()
        self._producer: Producer | None = None
        db.on_commit(self._after_commit)

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(PENDING_FLAG, False):
            self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def prepare(self) -> None:
        """Declare the topology before the service's workers start."""
        self._ensure_producer()

    def _ensure_producer(self) -> Producer:
        if self._producer is None:
            self.connection.ensure_connection(max_retries=3)
            topology.declare_base(self.connection)
            self._declared.clear()
            self._producer = Producer(self.connection.default_channel)
        return self._producer

    def _reset(self) -> None:
        self._producer = None
        try:
            self.connection.close()
        except Exception:  # the connection is already gone
            log.debug("closing a broken connection failed", exc_info=True)

    def _publish(self, producer: Producer, row: Any) -> None:
        queue = topology.destination_queue(row.exchange, row.routing_key)
        if queue is not None and queue.name not in self._declared:
            queue(producer.channel).declare()
            self._declared.add(queue.name)
        body = row.body
        producer.publish(
            body,
            exchange=row.exchange,
            routing_key=row.routing_key,
            serializer="json",
            delivery_mode=2,
            message_id=row.message_id,
            headers={"lt-type": body["type"], "lt-version": body["version"]},
        )

    def run_once(self) -> int:
        """Publish one batch; returns how many rows were published."""
        outbox = self.tables.outbox
        with self.db.unit_of_work() as session:
            query = (
                sa.select(
                    outbox.c.id,
                    outbox.c.message_id,
                    outbox.c.exchange,
                    outbox.c.routing_key,
                    outbox.c.body,
                )
                .where(outbox.c.published_at.is_(None))
                .order_by(outbox.c.id)
                .limit(self.batch_size)
            )
            if not self.db.is_sqlite:
                # Several relays may run; each takes rows the others have not locked.
                query = query.with_for_update(skip_locked=True)
            rows = session.execute(query).all()
            if not rows:
                return 0
            producer = self._ensure_producer()
            published: list[int] = []
            failure: Exception | None = None
            for row in rows:
                try:
                    self._publish(producer, row)
                except Exception as e:
                    failure = e
                    break
                published.append(row.id)
            if published:
                # Mark what the broker confirmed even when a later row failed.
                session.execute(
                    outbox.update()
                    .where(outbox.c.id.in_(published))
                    .values(published_at=datetime.now(UTC))
                )
        if failure is not None:
            raise failure
        return len(published)

    def run(self, stop: threading.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                count = self.run_once()
                backoff = 0.5
            except Exception:
                log.exception("outbox relay failed; retrying in %.1fs", backoff)
                self._reset()
                stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            if count < self.batch_size:
                self._wake.wait(self.poll_interval)
                self._wake.clear()
                if self._producer is not None:
                    self.connection.heartbeat_check()  # keep an idle connection alive
        self._reset()
