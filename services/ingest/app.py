"""Ingest: the agency-facing API and the agency connector, wired in one place."""

from __future__ import annotations

from flask import Flask

from services.common.db import Database
from services.common.storage import open_store
from services.common.web import health_blueprint
from services.common.wiring import Runtime, add_relay, new_flask_app
from services.ingest.api import api
from services.ingest.apikeys import ApiKeys
from services.ingest.consumers import add_consumers
from services.ingest.context import IngestContext
from services.ingest.exchange_api import exchange_api
from services.ingest.models import BUS
from services.ingest.ports import RoutingPort
from services.ingest.registry import KnownAgencies
from services.ingest.routing_client import RoutingClient
from services.ingest.settings import IngestSettings
from services.ingest.webhooks.rules import SecretBox
from services.ingest.webhooks.worker import WebhookWorker


def create_app(settings: IngestSettings, *, routing: RoutingPort | None = None) -> Flask:
    """``routing`` replaces the HTTP client to routing (tests pass a fake)."""
    common = settings.common
    db = Database(settings.database_url)
    box = SecretBox(settings.webhook.secret_keys)
    if routing is None:
        routing = RoutingClient(common.routing_url, common.service_token)
    context = IngestContext(
        settings=settings,
        db=db,
        store=open_store(common.storage_url),
        routing=routing,
        api_keys=ApiKeys(db, settings.api_key_cache_seconds),
        known_agencies=KnownAgencies(db),
        webhook_box=box,
        webhooks=WebhookWorker(db, box, settings.webhook),
        spool_dir=common.data_dir / "spool",
    )
    runtime = Runtime("ingest", db)
    add_relay(runtime, common, BUS)
    runtime.workers["webhooks"] = context.webhooks.run
    add_consumers(runtime, common, db)

    app = new_flask_app(runtime, context)
    # Uploads beyond the limit are cut off before they are read (413).
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes + 1024 * 1024
    app.register_blueprint(health_blueprint({"database": db.ping, "storage": context.store.check}))
    app.register_blueprint(api)
    app.register_blueprint(exchange_api)
    return app
