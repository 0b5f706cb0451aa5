"""Certificate revocation lists: the issuing CA's (from the revoked rows) and the root's.

A CRL is signed once and served from memory until the set of revoked certificates
changes (checked with one small query per request, so a revocation made by another
process shows at once) or half of its one-day validity has passed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from services.common.db import Database
from services.signing.pki.certificates import PkiKey, now
from services.signing.pki.material import PkiMaterial
from services.signing.pki.models import STATUS_REVOKED, Certificate

CRL_LIFETIME = timedelta(days=1)
ROOT_CRL_LIFETIME = timedelta(days=30)


@dataclass(frozen=True)
class Revoked:
    serial: int
    revoked_at: datetime
    reason: str | None


@dataclass
class _Signed:
    key: object
    this_update: datetime
    lifetime: timedelta
    der: bytes

    def fresh(self, key: object, moment: datetime) -> bool:
        return self.key == key and moment < self.this_update + self.lifetime / 2


def build_crl(
    issuer: x509.Certificate,
    issuer_key: PkiKey,
    revoked: list[Revoked],
    *,
    number: int,
    this_update: datetime,
    lifetime: timedelta = CRL_LIFETIME,
) -> x509.CertificateRevocationList:
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(this_update)
        .next_update(this_update + lifetime)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    )
    for item in revoked:
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(item.serial)
            .revocation_date(item.revoked_at)
        )
        if item.reason and item.reason != x509.ReasonFlags.unspecified.value:
            # RFC 5280 5.3.1: omit the reason code rather than say "unspecified".
            entry = entry.add_extension(x509.CRLReason(x509.ReasonFlags(item.reason)), False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(issuer_key, hashes.SHA256())


class CrlPublisher:
    """Signs and caches the CRLs of one PKI directory."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._issuing: _Signed | None = None
        self._root: _Signed | None = None
        self._last_number = 0

    def _number(self, moment: datetime) -> int:
        # Time-based, so it keeps increasing across restarts and processes without state.
        self._last_number = max(self._last_number + 1, int(moment.timestamp() * 1000))
        return self._last_number

    def _revocation_state(self, issuer_key_id: str) -> tuple[int, str | None, int | None]:
        with self.db.reading() as session:
            count, latest, top = session.execute(
                sa.select(
                    sa.func.count(Certificate.id),
                    sa.func.max(Certificate.revoked_at),
                    sa.func.max(Certificate.id),
                ).where(
                    Certificate.status == STATUS_REVOKED,
                    Certificate.issuer_key_id == issuer_key_id,
                )
            ).one()
        return int(count), str(latest) if latest is not None else None, top

    def _revoked(self, issuer_key_id: str) -> list[Revoked]:
        with self.db.reading() as session:
            rows = session.execute(
                sa.select(Certificate.serial, Certificate.revoked_at, Certificate.revocation_reason)
                .where(
                    Certificate.status == STATUS_REVOKED,
                    Certificate.issuer_key_id == issuer_key_id,
                )
                .order_by(Certificate.revoked_at, Certificate.id)
            ).all()
        return [Revoked(int(serial, 16), at or now(), reason) for serial, at, reason in rows]

    def crl(self, material: PkiMaterial) -> bytes:
        """The issuing CA's CRL (DER)."""
        key = (material.issuer_key_id, self._revocation_state(material.issuer_key_id))
        with self._lock:
            moment = now()
            if self._issuing is not None and self._issuing.fresh(key, moment):
                return self._issuing.der
            crl = build_crl(
                material.issuing_cert,
                material.issuing_key,
                self._revoked(material.issuer_key_id),
                number=self._number(moment),
                this_update=moment,
            )
            der = crl.public_bytes(serialization.Encoding.DER)
            self._issuing = _Signed(key, moment, CRL_LIFETIME, der)
            return der

    def root_crl(self, material: PkiMaterial) -> bytes:
        """The root's CRL: it never revokes the issuing CA here, but says so, signed."""
        key = material.issuer_key_id
        with self._lock:
            moment = now()
            if self._root is not None and self._root.fresh(key, moment):
                return self._root.der
            crl = build_crl(
                material.root_cert,
                material.root_key,
                [],
                number=self._number(moment),
                this_update=moment,
                lifetime=ROOT_CRL_LIFETIME,
            )
            der = crl.public_bytes(serialization.Encoding.DER)
            self._root = _Signed(key, moment, ROOT_CRL_LIFETIME, der)
            return der

    def invalidate(self) -> None:
        with self._lock:
            self._issuing = None
