"""Finding end-entity certificates: by serial, by holder, the one to sign with now."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from services.common.db import Database
from services.common.errors import Conflict, NotFound
from services.signing.pki import names
from services.signing.pki.errors import CertificateUnusable
from services.signing.pki.models import STATUS_VALID, Certificate
from services.signing.pki.records import CertificateRecord


def find_certificate(db: Database, serial: str) -> CertificateRecord | None:
    serial = names.normalize_serial(serial)
    with db.reading() as session:
        row = session.scalar(sa.select(Certificate).where(Certificate.serial == serial))
        return CertificateRecord.of(row) if row else None


def list_certificates(
    db: Database, agency: str | None = None, kind: str | None = None, *, current_only: bool = False
) -> list[CertificateRecord]:
    query = sa.select(Certificate).order_by(
        Certificate.agency_code, Certificate.kind, Certificate.id
    )
    if agency:
        query = query.where(Certificate.agency_code == agency)
    if kind:
        query = query.where(Certificate.kind == names.check_kind(kind))
    if current_only:
        query = query.where(Certificate.is_current.is_(True))
    with db.reading() as session:
        return [CertificateRecord.of(row) for row in session.scalars(query)]


def current_certificate(
    db: Database, agency: str, kind: str, name: str | None = None
) -> CertificateRecord | None:
    """The agency's current, valid, unexpired certificate of this kind, or None.

    Without ``name``, several current certificates of different holders (two leaders
    of one agency, say) are ambiguous and raise Conflict; with one holder, the most
    recently issued wins.
    """
    moment = datetime.now(UTC)
    query = (
        sa.select(Certificate)
        .where(
            Certificate.agency_code == agency,
            Certificate.kind == names.check_kind(kind),
            Certificate.is_current.is_(True),
            Certificate.status == STATUS_VALID,
        )
        .order_by(Certificate.not_before.desc(), Certificate.id.desc())
    )
    if name is not None:
        query = query.where(Certificate.name == names.clean_text(name, "name"))
    with db.reading() as session:
        records = [CertificateRecord.of(row) for row in session.scalars(query)]
    records = [r for r in records if r.not_before <= moment < r.not_after]
    if not records:
        return None
    holders = sorted({r.name for r in records})
    if name is None and len(holders) > 1:
        raise Conflict(
            f"agency {agency} has {kind} certificates for several holders "
            f"({', '.join(holders)}); name one"
        )
    return records[0]


def signing_certificate(
    db: Database, agency: str, kind: str, name: str | None = None
) -> CertificateRecord:
    """The certificate to sign with now, or an error that says why there is none.

    NotFound when the holder never had one; CertificateUnusable when their latest
    one was revoked or has expired (signing refuses, and says so).
    """
    record = current_certificate(db, agency, kind, name)
    if record is not None:
        return record
    query = (
        sa.select(Certificate)
        .where(Certificate.agency_code == agency, Certificate.kind == names.check_kind(kind))
        .order_by(Certificate.id.desc())
        .limit(1)
    )
    if name is not None:
        query = query.where(Certificate.name == names.clean_text(name, "name"))
    with db.reading() as session:
        row = session.scalar(query)
        latest = CertificateRecord.of(row) if row is not None else None
    holder = f"{agency} ({name})" if name else agency
    if latest is not None:
        reason = latest.unusable_reason()
        if reason is not None:
            raise CertificateUnusable(f"{holder} has no usable {kind} certificate: {reason}")
    raise NotFound(
        f"{holder} has no current {kind} certificate; issue one with `lienthong pki issue`"
    )
