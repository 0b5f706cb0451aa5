"""Signing: PAdES signing and verification, the PKI behind them, verify-on-arrival."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from flask import Flask
from pyhanko_certvalidator import ValidationContext

from services.common.bus.messages import DocumentReceived
from services.common.bus.topology import service_queue
from services.common.db import Database
from services.common.storage import open_store
from services.common.web import health_blueprint
from services.common.wiring import ServiceContext, add_consumer, add_relay, new_flask_app
from services.signing.api import api
from services.signing.arrival import ArrivalVerification, check_batch
from services.signing.handlers import SigningHandlers
from services.signing.keysource import PkiKeySource
from services.signing.models import BUS
from services.signing.pades import PadesEngine
from services.signing.pki import pkcs11 as pki_tokens
from services.signing.pki.api import blueprint as pki_blueprint
from services.signing.pki.service import PkiService, build_pki_service
from services.signing.settings import SigningSettings
from services.signing.verification.engine import Verifier
from services.signing.verification.guard import ProcessVerifier


def long_term_validation(pki: PkiService) -> ValidationContext:
    """What a B-LT signature embeds: our chain and fresh CRLs, made in-process."""
    from asn1crypto import crl as asn1_crl
    from asn1crypto import x509 as asn1_x509

    material = pki.material
    return ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(material.root_der)],
        other_certs=[asn1_x509.Certificate.load(material.issuing_der)],
        crls=[
            asn1_crl.CertificateList.load(pki.crl_der()),
            asn1_crl.CertificateList.load(pki.root_crl_der()),
        ],
        allow_fetching=False,
        revocation_mode="hard-fail",
    )


class LazyVerifier:
    """The verifier trusts our root, which exists only once `lienthong pki init` has run."""

    def __init__(self, settings: SigningSettings, pki: PkiService, *, isolated: bool) -> None:
        self.settings = settings
        self.pki = pki
        self.isolated = isolated
        self._verifier: Verifier | ProcessVerifier | None = None
        self._anchors: tuple[bytes, ...] = ()

    def _current(self) -> Verifier | ProcessVerifier:
        roots = self.pki.trust_roots()
        anchors = tuple(sorted(r.public_bytes(serialization.Encoding.DER) for r in roots))
        if self._verifier is None or anchors != self._anchors:
            if isinstance(self._verifier, ProcessVerifier):
                self._verifier.close()
            fetch = self.settings.verify_allow_fetching
            self._verifier = (
                ProcessVerifier(roots, allow_fetching=fetch)
                if self.isolated
                else Verifier(roots, allow_fetching=fetch)
            )
            self._anchors = anchors
        return self._verifier

    def verify(self, source: object, **kwargs: object) -> object:
        return self._current().verify(source, **kwargs)  # type: ignore[arg-type]

    def close(self) -> None:
        if isinstance(self._verifier, ProcessVerifier):
            self._verifier.close()


def create_app(settings: SigningSettings) -> Flask:
    common = settings.common
    db = Database(settings.database_url)
    store = open_store(common.storage_url)
    pki = build_pki_service(settings, db)
    spool_dir = common.data_dir / "spool"
    engine = PadesEngine(
        timestamper=pki.timestamper, validation_context=lambda: long_term_validation(pki)
    )
    # Uploaded files are untrusted: verify them in a worker process that a hang cannot block.
    verifier = LazyVerifier(settings, pki, isolated=True)
    arrival = ArrivalVerification(store, verifier, spool_dir)  # type: ignore[arg-type]
    context = ServiceContext(
        "signing",
        settings,
        db,
        extras={
            "store": store,
            "pki": pki,
            "verifier": verifier,
            "spool_dir": spool_dir,
            "signing": SigningHandlers(db, store, engine, PkiKeySource(pki), spool_dir),
        },
    )
    context.on_close += [pki_tokens.TOKENS.close_all, verifier.close]
    add_relay(context, common, BUS)
    add_consumer(
        context,
        common,
        BUS,
        "signing-events",
        {
            DocumentReceived: arrival.on_document_received,
        },
        lambda: [service_queue("signing")],
        before_batch=check_batch,
    )
    app = new_flask_app("signing", context)
    app.register_blueprint(health_blueprint({"database": db.ping, "storage": store.check}))
    app.register_blueprint(pki_blueprint)
    app.register_blueprint(api)
    return app
