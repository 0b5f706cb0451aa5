"""Revoking end-entity certificates; the CRL and OCSP responder read the result."""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from cryptography import x509

from services.common.db import Database
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.signing.pki import names
from services.signing.pki.certificates import now
from services.signing.pki.models import STATUS_REVOKED, Certificate
from services.signing.pki.records import CertificateRecord

log = logging.getLogger(__name__)

REASONS = {
    flag.value: flag for flag in x509.ReasonFlags if flag is not x509.ReasonFlags.remove_from_crl
}


def reason_flag(reason: str | None) -> x509.ReasonFlags:
    text = (reason or "unspecified").strip()
    for value, flag in REASONS.items():
        if text.lower() in (value.lower(), flag.name.lower()):
            return flag
    allowed = ", ".join(sorted(REASONS))
    raise ValidationFailed(f"{reason!r} is not a revocation reason; use one of {allowed}")


def revoke(
    db: Database, serial: str, reason: str | None = None, at: datetime | None = None
) -> CertificateRecord:
    """Mark a certificate revoked (no longer current); the CRL and OCSP follow at once."""
    serial = names.normalize_serial(serial)
    flag = reason_flag(reason)
    moment = (at or now()).replace(microsecond=0)
    with db.unit_of_work() as session:
        row = session.scalar(sa.select(Certificate).where(Certificate.serial == serial))
        if row is None:
            raise NotFound(f"no certificate with serial {serial}")
        if row.status == STATUS_REVOKED:
            raise Conflict(f"certificate {serial} is already revoked")
        row.status = STATUS_REVOKED
        row.revoked_at = moment
        row.revocation_reason = flag.value
        row.is_current = False
        session.flush()
        record = CertificateRecord.of(row)
    log.info("revoked certificate %s (%s)", serial, flag.value)
    return record
