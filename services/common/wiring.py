"""Pieces every service's create_app wires the same way."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask

from services.common.bus.connection import connect
from services.common.bus.consumer import BatchPreparer, BusConsumer, Handler, QueueSource
from services.common.bus.outbox import OutboxRelay
from services.common.bus.tables import BusTables
from services.common.db import Database, upgrade
from services.common.runtime import Service, Worker
from services.common.settings import CommonSettings
from services.common.web import register_error_handlers


@dataclass
class ServiceContext:
    """What a service's views and workers share; kept in ``app.extensions['lienthong']``."""

    name: str
    settings: Any
    db: Database
    workers: dict[str, Worker] = field(default_factory=dict)
    prepare: list[Callable[[], None]] = field(default_factory=list)
    on_close: list[Callable[[], None]] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, item: str) -> Any:
        try:
            return self.extras[item]
        except KeyError as e:
            raise AttributeError(item) from e


def new_flask_app(name: str, context: ServiceContext) -> Flask:
    app = Flask(f"lienthong.{name}")
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["lienthong"] = context
    register_error_handlers(app)
    return app


def add_relay(context: ServiceContext, common: CommonSettings, tables: BusTables) -> OutboxRelay:
    relay = OutboxRelay(context.db, tables, connect(common.broker, confirm_each_publish=False))
    context.workers["outbox-relay"] = relay.run
    context.prepare.append(relay.prepare)
    return relay


def add_consumer(
    context: ServiceContext,
    common: CommonSettings,
    tables: BusTables,
    name: str,
    handlers: dict[type, Handler],
    queues: QueueSource,
    *,
    before_batch: BatchPreparer | None = None,
) -> BusConsumer:
    consumer = BusConsumer(
        name,
        context.db,
        tables,
        connect(common.broker),
        handlers,
        queues,
        max_deliveries=common.max_deliveries,
        # Only where unacknowledged messages come back: the filesystem bus deletes a
        # message when it is read, so a batch held in memory would widen what a crash loses.
        batch_size=50 if common.broker.is_amqp else 1,
        before_batch=before_batch,
    )
    context.workers[name] = consumer.run
    return consumer


def migrate(service: str, url: str) -> None:
    upgrade(url, Path(__file__).resolve().parent.parent / service / "migrations", service)


def service_of(app: Flask, host: str, port: int) -> Service:
    context: ServiceContext = app.extensions["lienthong"]
    return Service(
        name=context.name,
        app=app,
        host=host,
        port=port,
        workers=dict(context.workers),
        prepare=list(context.prepare),
        on_close=[*context.on_close, context.db.dispose],
    )


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"
    )
