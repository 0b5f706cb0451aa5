"""Signing: PAdES signing and verification, the PKI behind them, verify-on-arrival."""

from __future__ import annotations

from flask import Flask

from services.common.db import Database
from services.common.observability import observe, standard_sources
from services.common.runtime import service_gate, set_request_gate
from services.common.storage import open_store
from services.common.web import health_blueprint
from services.common.wiring import Runtime, add_consumer, add_relay, new_flask_app
from services.signing import consumers
from services.signing.api import MAX_VERIFY_BYTES, api
from services.signing.arrival import ArrivalVerification
from services.signing.context import SigningContext
from services.signing.files_api import files_api
from services.signing.keysource import PkiKeySource
from services.signing.models import BUS
from services.signing.pades import PadesEngine
from services.signing.pdfpool import PdfPool
from services.signing.pdfwork import PdfReading, PooledReading
from services.signing.pki import pkcs11 as pki_tokens
from services.signing.pki.api import blueprint as pki_blueprint
from services.signing.pki.service import PkiService, build_pki_service
from services.signing.settings import SigningSettings
from services.signing.signing_service import SigningService
from services.signing.verifier import LazyVerifier, LongTermValidation, PdfVerifier
from services.signing.xml_api import xml_api


def signing_context(
    settings: SigningSettings,
    db: Database,
    pki: PkiService,
    verifier: PdfVerifier,
    pdf: PdfReading | None = None,
) -> SigningContext:
    """Everything the views use (also what tests serve the PKI endpoints with).
    ``pdf``: where the pages of a document to sign are read (in this process if None)."""
    store = open_store(settings.common.storage_url)
    spool_dir = settings.common.data_dir / "spool"
    engine = PadesEngine(timestamper=pki.timestamper, validation_context=LongTermValidation(pki))
    return SigningContext(
        settings=settings,
        db=db,
        store=store,
        pki=pki,
        verifier=verifier,
        spool_dir=spool_dir,
        signing=SigningService(db, store, engine, PkiKeySource(pki), spool_dir, pdf),
    )


# A PDF to verify (the largest body the API takes) and its multipart framing.
MAX_BODY_BYTES = MAX_VERIFY_BYTES + 1024 * 1024
PKI_MAX_BODY = 64 * 1024  # an OCSP or time-stamp request is a few hundred bytes


def create_app(settings: SigningSettings) -> Flask:
    common = settings.common
    db = Database(settings.database_url)
    pki = build_pki_service(settings, db)
    # Documents and uploads are untrusted: all work on them (verification, the page
    # facts and text that place a signature) runs on one pool of budgeted workers.
    pool = PdfPool(settings.pdf)
    verifier = LazyVerifier(settings, pki, pool=pool)
    context = signing_context(settings, db, pki, verifier, PooledReading(pool))
    runtime = Runtime("signing", db)
    runtime.on_close += [pki_tokens.TOKENS.close_all, verifier.close, pool.close]
    runtime.workers["pdf-workers"] = pool.prestart
    add_relay(runtime, common, BUS)
    arrival = ArrivalVerification(
        db, context.store, verifier, context.spool_dir, PooledReading(pool)
    )
    add_consumer(
        runtime,
        common,
        BUS,
        consumers.CONSUMER_NAME,
        consumers.subscriptions(arrival),
        lambda: [consumers.EVENTS_QUEUE],
    )
    app = new_flask_app(runtime, context)
    observe(
        app,
        "signing",
        standard_sources("signing", db, BUS, common.broker, [consumers.EVENTS_QUEUE.name]),
    )
    app.register_blueprint(health_blueprint({"database": db.ping, "storage": context.store.check}))
    app.register_blueprint(pki_blueprint)
    app.register_blueprint(api)
    app.register_blueprint(xml_api)
    app.register_blueprint(files_api)
    # Bodies are refused from their headers, before waitress reads them: the API takes
    # the service token and at most a PDF to verify; the PKI's OCSP responder and
    # time-stamp authority take small requests from anyone (the TSA's own access rule
    # then applies).
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    set_request_gate(
        app,
        service_gate(common.service_token, MAX_BODY_BYTES, public={"/pki/": PKI_MAX_BODY}),
    )
    return app
