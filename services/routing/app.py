"""Routing: exchanges, deliveries over lt.agency, the status lifecycle, and deadlines."""

from __future__ import annotations

import logging

from flask import Flask

from services.common.bus.messages import (
    AgencyRegistered,
    DeliveryArrived,
    DocumentReceived,
    DocumentVerified,
)
from services.common.bus.topology import service_queue
from services.common.db import Database
from services.common.web import health_blueprint
from services.common.wiring import ServiceContext, add_consumer, add_relay, new_flask_app
from services.routing import agencies, handlers
from services.routing.api import internal
from services.routing.deadline_api import deadlines_internal
from services.routing.mailer import MailWorker, SmtpMailer
from services.routing.models import BUS
from services.routing.scheduler import DeadlineScanner
from services.routing.settings import RoutingSettings

log = logging.getLogger(__name__)
_email_off_logged = False


def add_deadline_workers(context: ServiceContext, settings: RoutingSettings) -> None:
    """The deadline scanner, and the mail worker when LIENTHONG_SMTP_URL is set."""
    global _email_off_logged
    smtp = settings.mail.smtp
    scanner = DeadlineScanner(
        context.db, interval=settings.deadline_scan_seconds, email=smtp is not None
    )
    context.workers["deadline-scanner"] = scanner.run
    context.extras["deadline_scanner"] = scanner
    if smtp is None:
        if not _email_off_logged:
            log.info("deadline emails are off: LIENTHONG_SMTP_URL is not set")
            _email_off_logged = True
        return
    worker = MailWorker(context.db, SmtpMailer(smtp), settings.mail, sender=smtp.sender)
    context.workers["mail"] = worker.run
    context.extras["mail_worker"] = worker


def create_app(settings: RoutingSettings) -> Flask:
    common = settings.common
    db = Database(settings.database_url)
    context = ServiceContext("routing", settings, db)
    add_relay(context, common, BUS)
    add_consumer(
        context,
        common,
        BUS,
        "routing-events",
        {
            DocumentReceived: handlers.on_document_received,
            DeliveryArrived: handlers.on_delivery_arrived,
            # v1 and v2 (handlers are keyed by type): v2 also carries the mailbox.
            AgencyRegistered: agencies.on_agency_registered,
            DocumentVerified: handlers.on_document_verified,
        },
        lambda: [service_queue("routing")],
        before_batch=handlers.lock_for_batch,
    )
    add_deadline_workers(context, settings)
    app = new_flask_app("routing", context)
    app.register_blueprint(health_blueprint({"database": db.ping}))
    app.register_blueprint(internal)
    app.register_blueprint(deadlines_internal)
    return app
