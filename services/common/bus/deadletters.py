"""Operator access to lt.dead: look at dead letters, and send them back where they came from."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kombu import Connection, Producer
from kombu.message import Message as RawMessage

from services.common.bus import topology


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    type: str
    consumer: str
    reason: str
    attempts: int
    original_exchange: str
    original_routing_key: str
    dead_at: str


def _describe(raw: RawMessage) -> DeadLetter:
    headers: dict[str, Any] = dict(raw.headers or {})
    info = raw.delivery_info or {}
    try:
        body = raw.decode()
    except Exception:
        body = None
    envelope = body if isinstance(body, dict) else {}
    # Broker dead-lettering (delivery limit) records the origin in x-death.
    death = (headers.get("x-death") or [{}])[0]
    return DeadLetter(
        message_id=str(envelope.get("id") or raw.properties.get("message_id") or "?"),
        type=str(envelope.get("type") or headers.get("lt-type") or "?"),
        consumer=str(headers.get("x-lt-consumer") or death.get("queue") or "?"),
        reason=str(headers.get("x-lt-reason") or death.get("reason") or "?"),
        attempts=int(headers.get("x-lt-attempts") or death.get("count") or 0),
        original_exchange=str(headers.get("x-lt-original-exchange") or death.get("exchange") or ""),
        original_routing_key=str(
            headers.get("x-lt-original-routing-key")
            or (death.get("routing-keys") or [info.get("routing_key")])[0]
            or ""
        ),
        dead_at=str(headers.get("x-lt-dead-at") or ""),
    )


@contextmanager
def _held(connection: Connection) -> Iterator[tuple[Any, list[RawMessage]]]:
    """Take every dead letter without acknowledging; unacked ones return on close."""
    topology.declare_base(connection)
    channel = connection.channel()
    queue = topology.DEAD_QUEUE(channel)
    held: list[RawMessage] = []
    try:
        while (raw := queue.get(no_ack=False)) is not None:
            held.append(raw)
        yield channel, held
    finally:
        channel.close()


def list_dead(connection: Connection) -> list[DeadLetter]:
    with _held(connection) as (_channel, held):
        return [_describe(raw) for raw in held]


def replay_dead(connection: Connection, message_ids: set[str] | None) -> list[DeadLetter]:
    """Republish the chosen dead letters (all when ``message_ids`` is None) to their origin."""
    replayed = []
    with _held(connection) as (channel, held):
        producer = Producer(channel)
        for raw in held:
            letter = _describe(raw)
            if message_ids is not None and letter.message_id not in message_ids:
                continue
            if not letter.original_exchange:
                continue
            headers = {
                k: v
                for k, v in (raw.headers or {}).items()
                if not k.startswith("x-lt-") and k != "x-death"
            }
            producer.publish(
                raw.body,
                exchange=letter.original_exchange,
                routing_key=letter.original_routing_key,
                content_type=raw.content_type,
                content_encoding=raw.content_encoding,
                delivery_mode=2,
                headers=headers,
            )
            raw.ack()
            replayed.append(letter)
    return replayed
