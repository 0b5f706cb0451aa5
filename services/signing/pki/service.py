"""The PKI as the signing service holds it: ``SigningContext.pki``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from cryptography import x509
from pyhanko.sign.signers.pdf_cms import Signer

from services.common.db import Database
from services.signing.keys import KeyRing, keyring
from services.signing.pki import issuing, lookup, names, revoking
from services.signing.pki.ca import init_pki, pki_exists
from services.signing.pki.crl import CrlPublisher
from services.signing.pki.material import PkiMaterial, load_pki
from services.signing.pki.ocsp import OcspResponder, database_lookup
from services.signing.pki.records import CertificateRecord
from services.signing.pki.trust import trust_roots
from services.signing.pki.tsa import InProcessTimeStamper, TimeStampAuthority
from services.signing.settings import SigningSettings

T = TypeVar("T", OcspResponder, TimeStampAuthority)


class PkiService:
    """CA material (loaded on first use), the responders built on it, and the key ring."""

    def __init__(self, settings: SigningSettings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.crls = CrlPublisher(db)
        self.keys: KeyRing = keyring(settings)
        self._lock = threading.Lock()
        self._ocsp: OcspResponder | None = None
        self._tsa: TimeStampAuthority | None = None
        self._timestamper: InProcessTimeStamper | None = None

    @property
    def material(self) -> PkiMaterial:
        """Raises PkiNotInitialized (503) until `lienthong pki init` has run."""
        return load_pki(self.settings)

    def _current(self, held: T | None, make: Callable[[PkiMaterial], T]) -> T:
        material = self.material
        if held is not None and held.material is material:
            return held
        return make(material)

    @property
    def ocsp(self) -> OcspResponder:
        with self._lock:
            self._ocsp = self._current(
                self._ocsp,
                lambda m: OcspResponder(m, database_lookup(self.db, m.issuer_key_id)),
            )
            return self._ocsp

    @property
    def tsa(self) -> TimeStampAuthority:
        with self._lock:
            self._tsa = self._current(self._tsa, TimeStampAuthority)
            return self._tsa

    # --- what the endpoints serve ---------------------------------------------------------

    def root_der(self) -> bytes:
        return self.material.root_der

    def issuing_der(self) -> bytes:
        return self.material.issuing_der

    def crl_der(self) -> bytes:
        return self.crls.crl(self.material)

    def root_crl_der(self) -> bytes:
        return self.crls.root_crl(self.material)

    def ocsp_response(self, request_der: bytes) -> bytes:
        return self.ocsp.respond(request_der)

    def timestamp_reply(self, query_der: bytes) -> bytes:
        return self.tsa.respond(query_der)

    # --- for signing and verification -------------------------------------------------

    def timestamper(self) -> InProcessTimeStamper:
        """A pyHanko TimeStamper answered by our TSA in-process (no HTTP round trip).

        One per TSA: pyHanko asks a new time-stamper for a dummy token first (to size
        the signature and find the TSA's chain), which would cost a second token per
        signature."""
        tsa = self.tsa
        with self._lock:
            if self._timestamper is None or self._timestamper.authority is not tsa:
                self._timestamper = InProcessTimeStamper(tsa)
            return self._timestamper

    def trust_roots(self) -> list[x509.Certificate]:
        return trust_roots(self.settings)

    def current_certificate(
        self, agency: str, kind: str, name: str | None = None
    ) -> CertificateRecord | None:
        return lookup.current_certificate(self.db, agency, kind, name)

    def signer_for(self, certificate: CertificateRecord) -> Signer:
        return self.keys.signer_for(certificate)

    def signer(
        self, agency: str, kind: str, name: str | None = None
    ) -> tuple[Signer, CertificateRecord]:
        """The signer of the holder's current certificate, checked right now.

        Raises NotFound (no certificate) or CertificateUnusable (revoked, expired).
        """
        record = lookup.signing_certificate(self.db, agency, kind, name)
        return self.keys.signer_for(record), record

    # --- administration ----------------------------------------------------------------

    def issue(
        self,
        *,
        agency: str,
        kind: str,
        name: str,
        organization: str | None = None,
        title: str | None = None,
        days: int = names.END_ENTITY_DAYS,
        pkcs11: bool = False,
        token_label: str | None = None,
    ) -> CertificateRecord:
        """See issuing.issue."""
        return issuing.issue(
            self.db,
            self.settings,
            agency=agency,
            kind=kind,
            name=name,
            organization=organization,
            title=title,
            days=days,
            pkcs11=pkcs11,
            token_label=token_label,
            material=self.material,
        )

    def revoke(self, serial: str, reason: str | None = None) -> CertificateRecord:
        record = revoking.revoke(self.db, serial, reason)
        self.keys.forget(record.serial)
        self.crls.invalidate()
        return record


def build_pki_service(
    settings: SigningSettings, db: Database, *, auto_init: bool = False
) -> PkiService:
    """What create_app puts in ``SigningContext.pki``.

    The CA material is loaded lazily, so the service starts before `pki init`
    (its PKI endpoints answer 503 until then). ``auto_init`` creates the PKI at once
    when it is missing (the embedded demo).
    """
    if auto_init and not pki_exists(settings):
        init_pki(settings)
    return PkiService(settings, db)
