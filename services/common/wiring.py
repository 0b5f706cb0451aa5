"""Pieces every service's create_app wires the same way."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from flask import Flask, current_app

from services.common.bus.connection import connect
from services.common.bus.consumer import BusConsumer, QueueSource, Subscriptions
from services.common.bus.outbox import OutboxRelay
from services.common.bus.tables import BusTables
from services.common.db import Database, upgrade
from services.common.runtime import Service, Worker
from services.common.settings import CommonSettings
from services.common.web import register_error_handlers, register_response_headers

C = TypeVar("C")

_CONTEXT = "lienthong"
_RUNTIME = "lienthong.runtime"


@dataclass
class Runtime:
    """What a service runs besides its HTTP views: bus workers, what they need ready
    before they start, and what to release at shutdown. Built by ``create_app``."""

    name: str
    db: Database
    workers: dict[str, Worker] = field(default_factory=dict)
    prepare: list[Callable[[], None]] = field(default_factory=list)
    on_close: list[Callable[[], None]] = field(default_factory=list)


def new_flask_app(runtime: Runtime, context: object) -> Flask:
    """The service's Flask app, holding its typed context (read with ``current``)."""
    app = Flask(f"lienthong.{runtime.name}")
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[_CONTEXT] = context
    app.extensions[_RUNTIME] = runtime
    register_error_handlers(app)
    register_response_headers(app)
    return app


def context_of(app: Flask, kind: type[C]) -> C:
    """The typed context ``create_app`` built for ``app``."""
    context = app.extensions.get(_CONTEXT)
    if not isinstance(context, kind):
        raise TypeError(f"{app.name} holds {type(context).__name__}, not {kind.__name__}")
    return context


def current(kind: type[C]) -> C:
    """The typed context of the app handling this request."""
    return context_of(current_app, kind)


def runtime_of(app: Flask) -> Runtime:
    runtime = app.extensions[_RUNTIME]
    assert isinstance(runtime, Runtime)
    return runtime


def add_relay(runtime: Runtime, common: CommonSettings, tables: BusTables) -> OutboxRelay:
    relay = OutboxRelay(runtime.db, tables, connect(common.broker, confirm_each_publish=False))
    runtime.workers["outbox-relay"] = relay.run
    runtime.prepare.append(relay.prepare)
    return relay


def add_consumer(
    runtime: Runtime,
    common: CommonSettings,
    tables: BusTables,
    name: str,
    subscriptions: Subscriptions,
    queues: QueueSource,
) -> BusConsumer:
    consumer = BusConsumer(
        name,
        runtime.db,
        tables,
        connect(common.broker),
        subscriptions,
        queues,
        max_deliveries=common.max_deliveries,
        # Only where unacknowledged messages come back: the filesystem bus deletes a
        # message when it is read, so a batch held in memory would widen what a crash loses.
        batch_size=50 if common.broker.is_amqp else 1,
    )
    runtime.workers[name] = consumer.run
    return consumer


def migrations_of(service: str) -> Path:
    """The folder of a service's Alembic migrations."""
    return Path(__file__).resolve().parent.parent / service / "migrations"


def migrate(service: str, url: str) -> None:
    upgrade(url, migrations_of(service), service)


def service_of(app: Flask, host: str, port: int) -> Service:
    runtime = runtime_of(app)
    return Service(
        name=runtime.name,
        app=app,
        host=host,
        port=port,
        workers=dict(runtime.workers),
        prepare=list(runtime.prepare),
        on_close=[*runtime.on_close, runtime.db.dispose],
    )


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"
    )
