"""Transactional outbox: a message is written with the state change that causes it,
and a relay publishes it with publisher confirms only after that commit.

Publishing twice is possible (a crash between confirm and marking the row);
every consumer is idempotent by message id, so that is harmless.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from kombu import Connection, Producer
from sqlalchemy import event
from sqlalchemy.orm import Session

from services.common.bus import topology
from services.common.bus.envelope import Envelope, Message, wrap
from services.common.bus.tables import BusTables
from services.common.db import (
    Database,
    before_rows_at_commit,
    insert_at_commit,
    transaction_local,
)

log = logging.getLogger(__name__)

PENDING_FLAG = "lienthong.outbox_pending"
PENDING_FOLDS = transaction_local("lienthong.outbox_folds")
CONFIRM_TIMEOUT_SECONDS = 30.0
# A folded message carries at most this many items: it bounds a message's size and the
# transaction that applies it, and what one poison message takes to lt.dead.
MAX_FOLDED_ITEMS = 500


class PublishNotConfirmed(RuntimeError):
    """The broker refused (nack) or did not confirm a publish in time."""


class BatchConfirms:
    """Publisher confirms for a batch: publish every row, then wait once.

    Waiting for each confirm in turn (py-amqp's ``confirm_publish``) costs a broker
    round trip per message; a quorum queue confirms after its replicas have written,
    so a batch shares that wait. The broker numbers publishes on a confirm channel
    1, 2, 3, …; an ack or nack may cover every number up to its tag (``multiple``).
    """

    def __init__(self, channel: Any) -> None:
        channel.confirm_select()
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        self._last_tag = 0
        self._outstanding: dict[int, int] = {}  # delivery tag -> outbox row id
        self.confirmed: list[int] = []
        self.refused: list[int] = []

    def published(self, row_id: int) -> None:
        self._last_tag += 1
        self._outstanding[self._last_tag] = row_id

    def _settle(self, tag: int, multiple: bool, into: list[int]) -> None:
        tags = [t for t in self._outstanding if t <= tag] if multiple else [tag]
        for t in tags:
            row_id = self._outstanding.pop(t, None)
            if row_id is not None:
                into.append(row_id)

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple, self.confirmed)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple, self.refused)

    def wait(self, connection: Connection, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self._outstanding:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            connection.drain_events(timeout=left)

    def take(self) -> tuple[list[int], list[int], int]:
        """Confirmed and refused row ids since the last take, and how many are still open."""
        confirmed, refused = self.confirmed, self.refused
        self.confirmed, self.refused = [], []
        return confirmed, refused, len(self._outstanding)


def add_to_outbox(
    session: Session,
    tables: BusTables,
    msg: Message,
    *,
    exchange: str,
    routing_key: str | None = None,
    message_id: str | None = None,
) -> Envelope:
    """Queue ``msg`` for publishing when ``session`` commits: its row is written at
    commit with the transaction's others (:func:`insert_at_commit`), in order.
    """
    envelope = wrap(msg, message_id)
    insert_at_commit(
        session,
        tables.outbox,
        {
            "message_id": envelope.id,
            "exchange": exchange,
            "routing_key": routing_key or envelope.type,
            "body": envelope.to_json(),
            "created_at": datetime.now(UTC),
        },
    )
    session.info[PENDING_FLAG] = True
    return envelope


Fold = Callable[[Sequence[Message]], Message]


def add_folded_to_outbox(
    session: Session,
    tables: BusTables,
    msg: Message,
    *,
    fold: Fold,
    exchange: str,
    routing_key: str | None = None,
) -> None:
    """Like :func:`add_to_outbox`, but the messages a transaction adds with the same
    ``fold`` and destination travel as one, ``fold(messages)``, added at commit after
    the transaction's other messages, in order, at most ``MAX_FOLDED_ITEMS`` to a
    message; a message alone travels as itself. For events a consumer batch emits per
    item (each delivery's arrival, each status 01)."""
    folds: dict[tuple[BusTables, Fold, str, str | None], list[Message]] = session.info.setdefault(
        PENDING_FOLDS, {}
    )
    folds.setdefault((tables, fold, exchange, routing_key), []).append(msg)
    session.info[PENDING_FLAG] = True


@before_rows_at_commit
def _add_folds(session: Session) -> None:
    for (tables, fold, exchange, routing_key), msgs in session.info.pop(PENDING_FOLDS, {}).items():
        for start in range(0, len(msgs), MAX_FOLDED_ITEMS):
            part = msgs[start : start + MAX_FOLDED_ITEMS]
            one = part[0] if len(part) == 1 else fold(part)
            add_to_outbox(session, tables, one, exchange=exchange, routing_key=routing_key)


@event.listens_for(Session, "after_rollback")
def _forget_pending_flag(session: Session) -> None:
    session.info.pop(PENDING_FLAG, None)


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
        self._confirms: BatchConfirms | None = None
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
            channel = self.connection.default_channel
            self._confirms = BatchConfirms(channel) if self._confirms_batches() else None
            self._producer = Producer(channel)
        return self._producer

    def _confirms_batches(self) -> bool:
        """On AMQP without per-publish confirms, the relay confirms whole batches itself.

        A connection opened with ``confirm_publish`` waits inside every publish
        instead; the in-memory and filesystem transports have no confirms at all.
        """
        options: Mapping[str, Any] = self.connection.transport_options or {}
        return self.connection.transport.driver_type == "amqp" and not options.get(
            "confirm_publish"
        )

    def _reset(self) -> None:
        self._producer = None
        self._confirms = None
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
                if self._confirms is not None:
                    self._confirms.published(row.id)
            if self._confirms is not None:
                published, failure = self._await_confirms(failure)
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

    def _await_confirms(self, failure: Exception | None) -> tuple[list[int], Exception | None]:
        assert self._confirms is not None
        try:
            self._confirms.wait(self.connection, CONFIRM_TIMEOUT_SECONDS)
        except Exception as e:  # the connection broke while waiting
            failure = failure or e
        confirmed, refused, open_ = self._confirms.take()
        if failure is None and (refused or open_):
            failure = PublishNotConfirmed(
                f"{len(refused)} publishes refused by the broker, {open_} not confirmed "
                f"within {CONFIRM_TIMEOUT_SECONDS:.0f} s"
            )
        # On failure run() resets the connection: a new channel numbers from 1 again.
        return confirmed, failure

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
