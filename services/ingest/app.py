"""Ingest: the agency-facing API and the agency connector, wired in one place."""

from __future__ import annotations

from flask import Flask

from services.common.bus.messages import (
    DeliveriesCreated,
    DeliveryCreated,
    DeliveryDispatched,
    DeliveryDueSoon,
    DeliveryOverdue,
    DeliveryStatusChanged,
    DocumentSigned,
    DocumentVerified,
)
from services.common.bus.topology import agency_queue, service_queue
from services.common.db import Database
from services.common.storage import open_store
from services.common.web import health_blueprint
from services.common.wiring import ServiceContext, add_consumer, add_relay, new_flask_app
from services.ingest import handlers
from services.ingest.api import api
from services.ingest.apikeys import ApiKeys
from services.ingest.exchange_api import exchange_api
from services.ingest.models import BUS
from services.ingest.registry import KnownAgencies
from services.ingest.routing_client import RoutingClient
from services.ingest.settings import IngestSettings
from services.ingest.webhook_worker import WebhookWorker
from services.ingest.webhooks import SecretBox


def create_app(settings: IngestSettings) -> Flask:
    common = settings.common
    db = Database(settings.database_url)
    store = open_store(common.storage_url)
    box = SecretBox(settings.webhook.secret_keys)
    context = ServiceContext(
        "ingest",
        settings,
        db,
        extras={
            "store": store,
            "spool_dir": common.data_dir / "spool",
            "routing": RoutingClient(common.routing_url, common.service_token),
            "webhook_box": box,
            "api_keys": ApiKeys(db, settings.api_key_cache_seconds),
            "known_agencies": KnownAgencies(db),
        },
    )
    add_relay(context, common, BUS)
    # Push delivery: sends the webhook jobs the projections queue, after they commit.
    webhooks = WebhookWorker(db, box, settings.webhook)
    context.extras["webhooks"] = webhooks
    context.workers["webhooks"] = webhooks.run
    add_consumer(
        context,
        common,
        BUS,
        "ingest-events",
        {
            DeliveriesCreated: handlers.on_deliveries_created,
            DeliveryCreated: handlers.on_delivery_created,
            DeliveryStatusChanged: handlers.on_status_changed,
            DeliveryDueSoon: handlers.on_delivery_due_soon,
            DeliveryOverdue: handlers.on_delivery_overdue,
            DocumentSigned: handlers.on_document_signed,
            DocumentVerified: handlers.on_document_verified,
        },
        lambda: [service_queue("ingest")],
        before_batch=handlers.lock_for_batch,
    )
    # The agency connector: every registered agency's delivery queue feeds its inbox.
    add_consumer(
        context,
        common,
        BUS,
        "ingest-connector",
        {
            DeliveryDispatched: handlers.on_delivery_dispatched,
        },
        lambda: [agency_queue(a.code) for a in handlers.list_agencies(db)],
        before_batch=handlers.lock_for_batch,
    )

    app = new_flask_app("ingest", context)
    # Uploads beyond the limit are cut off before they are read (413).
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes + 1024 * 1024
    app.register_blueprint(health_blueprint({"database": db.ping, "storage": store.check}))
    app.register_blueprint(api)
    app.register_blueprint(exchange_api)
    return app
