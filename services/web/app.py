"""Web: the people's app, wired in one place."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import Flask

from services.common.db import Database
from services.common.storage import open_store
from services.common.web import health_blueprint
from services.common.wiring import Runtime, new_flask_app
from services.web.batches import BatchRunner
from services.web.clients import IngestClient, MetricsClient, SigningClient
from services.web.context import WebContext
from services.web.i18n import load_catalogs
from services.web.pages import PageRenderer
from services.web.security import LoginPolicy
from services.web.settings import WebSettings
from services.web.views.admin import admin
from services.web.views.auth import auth
from services.web.views.base import register_views
from services.web.views.incoming import incoming_views
from services.web.views.monitor import monitor
from services.web.views.outgoing import outgoing
from services.web.views.verify import verify

HERE = Path(__file__).resolve().parent


def create_app(settings: WebSettings) -> Flask:
    common = settings.common
    db = Database(settings.database_url)
    store = open_store(common.storage_url)
    signing = SigningClient(common.signing_url, common.service_token, timeout=120)
    spool_dir = common.data_dir / "web-spool"
    batches = BatchRunner(db, store, signing, spool_dir, settings.batch_workers)
    context = WebContext(
        settings=settings,
        db=db,
        store=store,
        ingest=IngestClient(common.ingest_url, common.service_token),
        signing=signing,
        pages=PageRenderer(common.data_dir / "web-pages"),
        catalogs=load_catalogs(),
        policy=LoginPolicy(
            max_failures=settings.max_failed_logins,
            lock=timedelta(minutes=settings.lock_minutes),
            session_life=timedelta(hours=settings.session_hours),
        ),
        batches=batches,
        spool_dir=spool_dir,
        reports_dir=common.data_dir / "web-reports",
        metrics=MetricsClient(common.ingest_url, common.service_token),
    )
    runtime = Runtime("web", db)
    runtime.workers["batches"] = batches.run
    app = new_flask_app(runtime, context)
    app.static_folder = str(HERE / "static")
    app.static_url_path = "/static"
    app.template_folder = str(HERE / "templates")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes + 1024 * 1024
    register_views(app)
    app.register_blueprint(health_blueprint({"database": db.ping, "storage": store.check}))
    for blueprint in (auth, outgoing, incoming_views, verify, admin, monitor):
        app.register_blueprint(blueprint)
    return app
