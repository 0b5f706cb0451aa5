"""Rows of the ``certificates`` table as detached records (times aware, in UTC)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.x509.oid import NameOID

from services.signing.pki.models import STATUS_REVOKED, Certificate


@dataclass(frozen=True)
class CertificateRecord:
    """One row of ``certificates``, detached from any session."""

    id: int
    serial: str
    issuer_key_id: str
    agency_code: str
    kind: str
    name: str
    subject: str
    fingerprint: str
    not_before: datetime
    not_after: datetime
    der: bytes
    key_ref: str
    status: str
    revoked_at: datetime | None
    revocation_reason: str | None
    is_current: bool

    @classmethod
    def of(cls, row: Certificate) -> CertificateRecord:
        return cls(
            id=row.id,
            serial=row.serial,
            issuer_key_id=row.issuer_key_id,
            agency_code=row.agency_code,
            kind=row.kind,
            name=row.name,
            subject=row.subject,
            fingerprint=row.fingerprint,
            not_before=row.not_before,
            not_after=row.not_after,
            der=row.der,
            key_ref=row.key_ref,
            status=row.status,
            revoked_at=row.revoked_at,
            revocation_reason=row.revocation_reason,
            is_current=row.is_current,
        )

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.der)

    def _attribute(self, oid: x509.ObjectIdentifier) -> str | None:
        found = self.certificate.subject.get_attributes_for_oid(oid)
        return str(found[0].value) if found else None

    @property
    def common_name(self) -> str:
        return self._attribute(NameOID.COMMON_NAME) or self.name

    @property
    def organization(self) -> str | None:
        """O= of the subject: the agency's name (shown on stamps)."""
        return self._attribute(NameOID.ORGANIZATION_NAME)

    @property
    def serial_number(self) -> int:
        return int(self.serial, 16)

    @property
    def on_token(self) -> bool:
        return self.key_ref.startswith("pkcs11:")

    def unusable_reason(self, at: datetime | None = None) -> str | None:
        """Why this certificate must not sign at ``at`` (default now), or None."""
        moment = at or datetime.now(UTC)
        if self.status == STATUS_REVOKED:
            when = self.revoked_at.isoformat() if self.revoked_at else "an unknown time"
            return f"certificate {self.serial} was revoked at {when} ({self.revocation_reason})"
        if moment < self.not_before:
            return f"certificate {self.serial} is not valid before {self.not_before.isoformat()}"
        if moment >= self.not_after:
            return f"certificate {self.serial} expired at {self.not_after.isoformat()}"
        return None
