"""Idempotent bus consumers that acknowledge only after their effect is committed.

The message id is recorded in the same transaction as the handler's effect, so a
redelivered message is applied once. A handler that fails is retried up to
``max_deliveries`` times, then the message goes to ``lt.dead`` with the reason.
A message that cannot be decoded goes there at once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from kombu import Connection, Consumer, Producer, Queue
from kombu.message import Message as RawMessage
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common.bus import topology
from services.common.bus.envelope import (
    Envelope,
    Folded,
    Message,
    folded_types,
    parse,
    read_envelope,
    unfold,
)
from services.common.bus.tables import BusTables
from services.common.db import Database
from services.common.errors import MessageFormatError

log = logging.getLogger(__name__)

Handler = Callable[[Session, Any, Envelope], None]
# Called in a batch's transaction before its handlers, with the messages not yet
# applied: a service may lock or load in one query what they will each need.
BatchPreparer = Callable[[Session, list[Message]], None]
QueueSource = Callable[[], list[Queue]]


@dataclass(frozen=True)
class Subscriptions:
    """What one consumer reads, declared in one place by the service that owns it: a
    handler per message type (its queue is bound to exactly these types and their
    folded forms, see ``topology.service_queue``) and what a batch prepares first."""

    handlers: Mapping[type[Message], Handler]
    before_batch: BatchPreparer | None = None
    # Slow work (reading files, network) done for the batch's messages before its
    # transaction opens, so that no row is locked while it runs; the handlers then
    # find its results. It may run again for a message that is redelivered.
    outside_transaction: Callable[[list[Message]], None] | None = None

    @property
    def message_types(self) -> list[type[Message]]:
        return list(self.handlers)


def each_item(handler: Handler) -> Handler:
    """The handler of a folded message: ``handler`` applied to each item, in order, in
    the message's transaction."""

    def apply(session: Session, msg: Folded[Message], envelope: Envelope) -> None:
        for item in msg.messages():
            handler(session, item, envelope)

    return apply


def _with_folded(handlers: Mapping[type[Message], Handler]) -> dict[str, Handler]:
    """Handlers by message type; a folded type is handled item by item wherever its
    item type has a handler (and it has none of its own)."""
    by_type = {cls.TYPE: handler for cls, handler in handlers.items()}
    for folded in folded_types():
        item_handler = by_type.get(folded.ITEM.TYPE)
        if item_handler is not None and folded.TYPE not in by_type:
            by_type[folded.TYPE] = each_item(item_handler)
    return by_type


class BusConsumer:
    def __init__(
        self,
        name: str,
        db: Database,
        tables: BusTables,
        connection: Connection,
        subscriptions: Subscriptions,
        queues: QueueSource,
        *,
        max_deliveries: int = 5,
        prefetch: int = 50,
        queue_refresh_seconds: float = 2.0,
        batch_size: int = 50,
    ) -> None:
        self.name = name
        self.db = db
        self.tables = tables
        self.connection = connection
        self.handlers = _with_folded(subscriptions.handlers)
        self.queue_source = queues
        self.max_deliveries = max_deliveries
        self.prefetch = prefetch
        self.queue_refresh_seconds = queue_refresh_seconds
        self.batch_size = max(1, batch_size)
        self.before_batch = subscriptions.before_batch
        self.outside_transaction = subscriptions.outside_transaction
        self._pending: list[RawMessage] = []
        self._dead_producer: Producer | None = None
        self._dead_connection: Connection | None = None

    # --- one message -----------------------------------------------------

    def on_message(self, raw: RawMessage) -> None:
        decoded = self._decode(raw)
        if decoded is not None:
            self._apply_one(raw, *decoded)

    def _decode(self, raw: RawMessage) -> tuple[Envelope, Message, Handler] | None:
        """The message and its handler; ``None`` after dead-lettering what cannot be."""
        try:
            envelope = read_envelope(raw.decode())
            msg = parse(envelope)
            handler = self.handlers.get(envelope.type)
            if handler is None:
                raise MessageFormatError(f"{self.name} has no handler for {envelope.type}")
        except Exception as e:
            # Undecodable or unexpected: retrying cannot help.
            self._dead_letter(raw, f"{type(e).__name__}: {e}", attempts=1)
            raw.ack()
            return None
        return envelope, msg, handler

    def _apply_one(
        self, raw: RawMessage, envelope: Envelope, msg: Message, handler: Handler
    ) -> None:
        try:
            self._apply(envelope, msg, handler)
        except Exception as e:
            attempts = self._record_failure(envelope.id, e)
            if attempts >= self.max_deliveries:
                log.error(
                    "%s: %s %s failed %d times, dead-lettered: %s",
                    self.name,
                    envelope.type,
                    envelope.id,
                    attempts,
                    e,
                )
                self._dead_letter(raw, f"{type(e).__name__}: {e}", attempts=attempts)
                raw.ack()
                # The dead letter carries the count; a replayed message starts afresh.
                self._clear_failures(envelope.id)
            else:
                log.warning(
                    "%s: %s %s failed (attempt %d), requeued: %s",
                    self.name,
                    envelope.type,
                    envelope.id,
                    attempts,
                    e,
                )
                raw.requeue()
            return
        raw.ack()

    def _apply(self, envelope: Envelope, msg: Message, handler: Handler) -> None:
        try:
            self._apply_batch([(envelope, msg, handler)])
        except IntegrityError:
            # Another consumer process applied the same message concurrently.
            if not self._was_processed(envelope.id):
                raise

    # --- a batch of messages --------------------------------------------------

    def on_batch(self, raws: list[RawMessage]) -> None:
        """Apply several messages in one transaction, then acknowledge them.

        Under load most of a message's cost is the transaction around it, so the
        consumer takes what the broker has already sent (up to ``batch_size``) and
        commits once. If anything in the batch fails, nothing of it is kept and each
        message is applied on its own, with the usual retry and dead-letter rules.
        """
        decoded = [(raw, d) for raw in raws if (d := self._decode(raw)) is not None]
        if not decoded:
            return
        if len(decoded) > 1:
            try:
                self._apply_batch([d for _, d in decoded])
            except Exception as e:
                log.info("%s: a batch of %d failed (%s); one by one", self.name, len(decoded), e)
            else:
                for raw, _ in decoded:
                    raw.ack()
                return
        for raw, (envelope, msg, handler) in decoded:
            self._apply_one(raw, envelope, msg, handler)

    def _apply_batch(self, batch: list[tuple[Envelope, Message, Handler]]) -> None:
        processed = self.tables.processed
        ids = [envelope.id for envelope, _, _ in batch]
        if self.outside_transaction is not None:
            self.outside_transaction(unfold([msg for _, msg, _ in batch]))
        with self.db.unit_of_work() as session:
            seen = set(
                session.execute(
                    sa.select(processed.c.message_id).where(
                        processed.c.consumer == self.name, processed.c.message_id.in_(ids)
                    )
                ).scalars()
            )
            now = datetime.now(UTC)
            todo = []
            for envelope, msg, handler in batch:
                if envelope.id not in seen:  # else applied before, or twice in this batch
                    seen.add(envelope.id)
                    todo.append((envelope, msg, handler))
            if self.before_batch is not None and (
                len(todo) > 1 or (todo and isinstance(todo[0][1], Folded))
            ):
                self.before_batch(session, [msg for _, msg, _ in todo])
            applied: list[dict[str, Any]] = []
            for envelope, msg, handler in todo:
                handler(session, msg, envelope)
                applied.append(
                    {"consumer": self.name, "message_id": envelope.id, "processed_at": now}
                )
            if applied:
                session.execute(processed.insert(), applied)
                session.execute(self._failures_of(*ids))

    def _was_processed(self, message_id: str) -> bool:
        processed = self.tables.processed
        with self.db.reading() as session:
            return (
                session.execute(
                    sa.select(processed.c.message_id).where(
                        processed.c.consumer == self.name, processed.c.message_id == message_id
                    )
                ).first()
                is not None
            )

    def _record_failure(self, message_id: str, error: Exception) -> int:
        failures = self.tables.failures
        text = f"{type(error).__name__}: {error}"[:4000]
        with self.db.unit_of_work() as session:
            row = session.execute(
                sa.select(failures.c.attempts).where(
                    failures.c.consumer == self.name, failures.c.message_id == message_id
                )
            ).first()
            attempts = (row.attempts if row else 0) + 1
            values = {"attempts": attempts, "last_error": text, "updated_at": datetime.now(UTC)}
            if row:
                session.execute(
                    failures.update()
                    .where(failures.c.consumer == self.name, failures.c.message_id == message_id)
                    .values(**values)
                )
            else:
                session.execute(
                    failures.insert().values(consumer=self.name, message_id=message_id, **values)
                )
        return attempts

    def _clear_failures(self, message_id: str) -> None:
        with self.db.unit_of_work() as session:
            session.execute(self._failures_of(message_id))

    def _failures_of(self, *message_ids: str) -> sa.Delete:
        failures = self.tables.failures
        return failures.delete().where(
            failures.c.consumer == self.name, failures.c.message_id.in_(message_ids)
        )

    def _dead_letter(self, raw: RawMessage, reason: str, *, attempts: int) -> None:
        if self._dead_producer is None:
            # Its own connection: waiting for a confirm on the consuming connection would
            # read the next delivery and run its handler inside this one.
            self._dead_connection = self.connection.clone()
            self._dead_producer = Producer(self._dead_connection.channel())
        info = raw.delivery_info or {}
        self._dead_producer.publish(
            raw.body,
            exchange=topology.DEAD.name,
            routing_key=info.get("routing_key") or "unknown",
            content_type=raw.content_type,
            content_encoding=raw.content_encoding,
            delivery_mode=2,
            message_id=(raw.properties or {}).get("message_id"),
            headers={
                **(raw.headers or {}),
                "x-lt-consumer": self.name,
                "x-lt-reason": reason[:1000],
                "x-lt-attempts": attempts,
                "x-lt-original-exchange": info.get("exchange") or "",
                "x-lt-original-routing-key": info.get("routing_key") or "",
                "x-lt-dead-at": datetime.now(UTC).isoformat(),
            },
        )

    # --- the loop ----------------------------------------------------------

    def _take_what_is_ready(self) -> None:
        """Read deliveries the broker has already sent, without waiting for more."""
        while len(self._pending) < self.batch_size:
            try:
                # Not 0: a non-blocking read can drop a half-read frame in py-amqp.
                self.connection.drain_events(timeout=0.002)
            except TimeoutError:
                return

    def run(self, stop: threading.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                self._consume_until(stop)
                backoff = 0.5
            except Exception:
                log.exception("%s: consumer failed; reconnecting in %.1fs", self.name, backoff)
                self._dead_producer = None
                if self._dead_connection is not None:
                    with contextlib.suppress(Exception):
                        self._dead_connection.close()
                    self._dead_connection = None
                try:
                    self.connection.close()
                except Exception:
                    log.debug("closing a broken connection failed", exc_info=True)
                stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def _consume_until(self, stop: threading.Event) -> None:
        self.connection.ensure_connection(max_retries=3)
        topology.declare_base(self.connection)
        channel = self.connection.channel()
        self._pending = []
        consumer = Consumer(
            channel,
            queues=[],
            on_message=self._pending.append,
            accept=["json"],
            prefetch_count=self.prefetch,
            auto_declare=True,
        )
        consuming: set[str] = set()
        next_refresh = 0.0
        try:
            while not stop.is_set():
                if time.monotonic() >= next_refresh:
                    for queue in self.queue_source():
                        if queue.name not in consuming:
                            consumer.add_queue(queue)
                            consuming.add(queue.name)
                    consumer.consume()
                    next_refresh = time.monotonic() + self.queue_refresh_seconds
                if not consuming:
                    stop.wait(0.5)
                    continue
                # A timeout only means nothing arrived; go round and check `stop`.
                with contextlib.suppress(TimeoutError):
                    self.connection.drain_events(timeout=0.5)
                    self._take_what_is_ready()
                if self._pending:
                    batch = self._pending[:]
                    self._pending.clear()
                    self.on_batch(batch)
                self.connection.heartbeat_check()  # or the broker drops an idle connection
        finally:
            self._pending.clear()  # unacknowledged: the broker delivers them again
            try:
                consumer.cancel()
                channel.close()
            except Exception:
                log.debug("closing the consumer channel failed", exc_info=True)
