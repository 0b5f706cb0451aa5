"""Broker connections built from settings."""

from __future__ import annotations

from kombu import Connection

from services.common.bus import filesystem
from services.common.settings import BrokerSettings


def connect(broker: BrokerSettings, *, confirm_each_publish: bool = True) -> Connection:
    """``confirm_each_publish=False`` is for the outbox relay, which confirms batches."""
    options = dict(broker.transport_options)
    if not confirm_each_publish:
        options.pop("confirm_publish", None)
    return Connection(
        broker.url,
        # The embedded bus: kombu's filesystem transport, with atomic message files.
        transport=filesystem.Transport if broker.url.startswith("filesystem:") else None,
        transport_options=options,
        heartbeat=30 if broker.is_amqp else 0,
        connect_timeout=10,
    )
