"""Routing: exchanges, deliveries over lt.agency, the status lifecycle, and deadlines."""

from __future__ import annotations

import logging

from flask import Flask

from services.common.db import Database
from services.common.observability import Source, observe, standard_sources
from services.common.web import health_blueprint
from services.common.wiring import Runtime, add_consumer, add_relay, new_flask_app
from services.routing import consumers
from services.routing.api import internal
from services.routing.context import RoutingContext
from services.routing.deadlines.api import deadlines_internal
from services.routing.deadlines.mailer import MailWorker, SmtpMailer
from services.routing.deadlines.scanner import DeadlineScanner
from services.routing.ledger import gauges
from services.routing.ledger.api import ledger_internal
from services.routing.models import BUS
from services.routing.receipts import ReceiptKeys
from services.routing.settings import RoutingSettings

log = logging.getLogger(__name__)
_email_off_logged = False


def _deadline_workers(
    runtime: Runtime, settings: RoutingSettings
) -> tuple[DeadlineScanner, MailWorker | None]:
    """The deadline scanner, and the mail worker when LIENTHONG_SMTP_URL is set."""
    global _email_off_logged
    smtp = settings.mail.smtp
    scanner = DeadlineScanner(
        runtime.db, interval=settings.deadline_scan_seconds, email=smtp is not None
    )
    runtime.workers["deadline-scanner"] = scanner.run
    if smtp is None:
        if not _email_off_logged:
            log.info("deadline emails are off: LIENTHONG_SMTP_URL is not set")
            _email_off_logged = True
        return scanner, None
    worker = MailWorker(runtime.db, SmtpMailer(smtp), settings.mail, sender=smtp.sender)
    runtime.workers["mail"] = worker.run
    return scanner, worker


def create_app(settings: RoutingSettings) -> Flask:
    common = settings.common
    db = Database(settings.database_url)
    runtime = Runtime("routing", db)
    add_relay(runtime, common, BUS)
    add_consumer(
        runtime,
        common,
        BUS,
        "routing-events",
        consumers.subscriptions(),
        lambda: [consumers.EVENTS_QUEUE],
    )
    scanner, mail_worker = _deadline_workers(runtime, settings)
    context = RoutingContext(
        settings=settings,
        db=db,
        receipt_keys=ReceiptKeys(common.data_dir / "routing-receipt-key.pem"),
        deadline_scanner=scanner,
        mail_worker=mail_worker,
    )
    app = new_flask_app(runtime, context)
    queues = [consumers.EVENTS_QUEUE.name]
    observe(
        app,
        "routing",
        [
            *standard_sources("routing", db, BUS, common.broker, queues),
            Source("routing-deliveries", lambda: gauges.delivery_families(db), 30.0),
            Source("routing-e-share", lambda: gauges.e_share_families(db), 30.0),
        ],
    )
    app.register_blueprint(health_blueprint({"database": db.ping}))
    app.register_blueprint(internal)
    app.register_blueprint(deadlines_internal)
    app.register_blueprint(ledger_internal)
    return app
