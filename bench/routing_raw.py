"""The baseline for routing: plain kombu on the same broker, nothing of ours in the way.

Publishers send persistent ~1 KB JSON messages with publisher confirms (kombu's
``confirm_publish``: each ``publish`` returns once the broker has confirmed it, as our
outbox relay does) to a durable quorum queue; one consumer on its own connection takes
them with the same prefetch as our consumers (50) and acknowledges each one.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass

from kombu import Connection, Consumer, Exchange, Producer, Queue

from services.common.bus.envelope import wrap
from services.common.bus.messages import DocumentReceived
from testkit.stack import metadata_to

PREFETCH = 50


@dataclass(frozen=True)
class RawRun:
    publishers: int
    messages: int
    body_bytes: int
    publish_seconds: float  # first publish → last confirm
    total_seconds: float  # first publish → last message consumed and acked
    consumed: int

    @property
    def published_per_second(self) -> float:
        return self.messages / self.publish_seconds if self.publish_seconds else 0.0

    @property
    def messages_per_second(self) -> float:
        """Published, confirmed, consumed and acknowledged, end to end."""
        return self.consumed / self.total_seconds if self.total_seconds else 0.0


def envelope_body(recipients: tuple[str, ...]) -> bytes:
    """A real ``document.received`` envelope as our relay would publish it."""
    msg = DocumentReceived(
        document=str(uuid.uuid4()),
        document_id="000.00.00.H41,2026/11/21,1234/UBND-VP",
        sender="000.00.00.H41",
        recipients=recipients,
        sha256="ab" * 32,
        size=600,
        received_at="2026-11-21T09:30:00.000000+00:00",
        subject="Thử nghiệm",
        priority=0,
        due_date=None,
        paper=0,
        business_doc_type=0,
        supersedes=None,
        business_reason="",
        metadata=metadata_to(*recipients, number="1234"),
    )
    return json.dumps(wrap(msg).to_json(), ensure_ascii=False).encode()


def _queue(name: str) -> Queue:
    return Queue(
        name,
        exchange=Exchange(name, type="direct", durable=True),
        routing_key=name,
        durable=True,
        queue_arguments={"x-queue-type": "quorum"},
    )


def raw_confirmed(broker_url: str, messages: int, body: bytes, publishers: int = 1) -> RawRun:
    """Publish ``messages`` (split over ``publishers`` connections) and consume them all."""
    queue = _queue(f"bench.raw.{uuid.uuid4().hex[:8]}")
    consumed = 0
    last_consumed = 0.0
    all_in = threading.Event()
    with Connection(broker_url) as setup:
        queue(setup.default_channel).declare()
    try:
        with Connection(broker_url, heartbeat=0) as consuming:
            channel = consuming.channel()

            def on_message(raw: object) -> None:
                nonlocal consumed, last_consumed
                raw.ack()  # type: ignore[attr-defined]
                consumed += 1
                last_consumed = time.perf_counter()
                if consumed >= messages:
                    all_in.set()

            consumer = Consumer(
                channel, queues=[queue], on_message=on_message, prefetch_count=PREFETCH
            )
            consumer.consume()
            confirmed: list[float] = []
            began = time.perf_counter()
            threads = [
                threading.Thread(
                    target=_publish,
                    args=(broker_url, queue, body, _share(messages, publishers, i), confirmed),
                    name=f"raw-publisher-{i}",
                )
                for i in range(publishers)
            ]
            for t in threads:
                t.start()
            deadline = time.monotonic() + 600
            while not all_in.is_set() and time.monotonic() < deadline:
                try:
                    consuming.drain_events(timeout=1)
                except TimeoutError:
                    continue
            for t in threads:
                t.join()
            consumer.cancel()
            return RawRun(
                publishers=publishers,
                messages=messages,
                body_bytes=len(body),
                publish_seconds=max(confirmed) - began if confirmed else 0.0,
                total_seconds=last_consumed - began,
                consumed=consumed,
            )
    finally:
        with Connection(broker_url) as cleanup:
            queue(cleanup.default_channel).delete()


def _share(total: int, parts: int, index: int) -> int:
    return total // parts + (1 if index < total % parts else 0)


def _publish(
    broker_url: str, queue: Queue, body: bytes, count: int, confirmed: list[float]
) -> None:
    with Connection(broker_url, transport_options={"confirm_publish": True}, heartbeat=0) as conn:
        producer = Producer(conn.default_channel)
        for _ in range(count):
            producer.publish(
                body,
                exchange=queue.exchange,
                routing_key=queue.routing_key,
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
                message_id=str(uuid.uuid4()),
            )
        confirmed.append(time.perf_counter())
