"""Broker connections built from settings."""

from __future__ import annotations

from kombu import Connection

from services.common.settings import BrokerSettings


def connect(broker: BrokerSettings, *, confirm_each_publish: bool = True) -> Connection:
    """``confirm_each_publish=False`` is for the outbox relay, which confirms batches."""
    options = dict(broker.transport_options)
    if not confirm_each_publish:
        options.pop("confirm_publish", None)
    return Connection(
        broker.url,
        transport_options=options,
        heartbeat=30 if broker.is_amqp else 0,
        connect_timeout=10,
    )
