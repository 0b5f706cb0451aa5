"""Ingest: the agency-facing API and the agency connector, wired in one place."""

from __future__ import annotations

from flask import Flask

from services.common.db import Database
from services.common.observability import observe, standard_sources
from services.common.runtime import set_request_gate
from services.common.storage import open_store
from services.common.web import health_blueprint, use_limits
from services.common.wiring import Runtime, add_relay, new_flask_app
from services.ingest.api import api
from services.ingest.apikeys import ApiKeys
from services.ingest.consumers import EVENTS_QUEUE, add_consumers
from services.ingest.context import IngestContext
from services.ingest.edxml.api import edxml_api
from services.ingest.edxml.signatures import SigningXmlClient, XmlSignatures
from services.ingest.exchange_api import exchange_api
from services.ingest.gate import ingest_gate
from services.ingest.metrics.api import metrics_api
from services.ingest.models import BUS
from services.ingest.ports import RoutingPort
from services.ingest.registry import KnownAgencies
from services.ingest.routing_client import RoutingClient
from services.ingest.settings import IngestSettings
from services.ingest.webhooks.rules import SecretBox
from services.ingest.webhooks.worker import WebhookWorker


def create_app(
    settings: IngestSettings,
    *,
    routing: RoutingPort | None = None,
    xml_signatures: XmlSignatures | None = None,
) -> Flask:
    """``routing`` and ``xml_signatures`` replace the HTTP clients to routing and to
    signing (tests pass fakes)."""
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
        xml_signatures=xml_signatures or SigningXmlClient(common.signing_url, common.service_token),
    )
    runtime = Runtime("ingest", db)
    add_relay(runtime, common, BUS)
    runtime.workers["webhooks"] = context.webhooks.run
    add_consumers(runtime, common, db)

    app = new_flask_app(runtime, context)
    queues = [EVENTS_QUEUE.name]
    observe(app, "ingest", standard_sources("ingest", db, BUS, common.broker, queues))
    # Bodies beyond the limit are refused before they are read (413): by waitress, whose
    # limit this is too (services.common.runtime), and by Flask under any other server.
    app.config["MAX_CONTENT_LENGTH"] = max(
        settings.max_request_bytes, settings.edxml.max_package_bytes
    )
    # The metadata form field; as a file part it is read under the same cap (api.py).
    app.config["MAX_FORM_MEMORY_SIZE"] = settings.max_metadata_bytes
    use_limits(app, common.limits)
    set_request_gate(
        app,
        ingest_gate(
            context.api_keys,
            upload_limit=settings.max_request_bytes,
            json_limit=common.limits.json_max_bytes,
            package_limit=settings.edxml.max_package_bytes,
            service_token=common.service_token,
        ),
    )
    app.register_blueprint(health_blueprint({"database": db.ping, "storage": context.store.check}))
    app.register_blueprint(api)
    app.register_blueprint(exchange_api)
    app.register_blueprint(edxml_api)
    app.register_blueprint(metrics_api)
    return app
