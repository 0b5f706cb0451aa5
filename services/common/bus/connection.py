"""Broker connections built from settings."""

from __future__ import annotations

from kombu import Connection

from services.common.settings import BrokerSettings


def connect(broker: BrokerSettings) -> Connection:
    return Connection(
        broker.url,
        transport_options=dict(broker.transport_options),
        heartbeat=30 if broker.is_amqp else 0,
        connect_timeout=10,
    )
