"""The certificates the issuing CA has issued, on signing's metadata."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import UtcDateTime
from services.signing.models import Base

STATUS_VALID = "valid"
STATUS_REVOKED = "revoked"


class Certificate(Base):
    __tablename__ = "certificates"
    __table_args__ = (
        sa.Index("ix_certificates_holder", "agency_code", "kind", "name", "is_current"),
        sa.Index("ix_certificates_revoked", "status", "revoked_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    serial: Mapped[str] = mapped_column(sa.String(40), unique=True)  # lower-case hex
    issuer_key_id: Mapped[str] = mapped_column(sa.String(64))  # hex SKI of the issuing CA
    agency_code: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(20))  # organization | personal
    name: Mapped[str] = mapped_column(sa.String(200))  # as given to `pki issue --name`
    subject: Mapped[str] = mapped_column(sa.Text)  # RFC 4514
    fingerprint: Mapped[str] = mapped_column(sa.String(64), unique=True)  # SHA-256 of der
    not_before: Mapped[datetime] = mapped_column(UtcDateTime)
    not_after: Mapped[datetime] = mapped_column(UtcDateTime)
    der: Mapped[bytes] = mapped_column(sa.LargeBinary)
    key_ref: Mapped[str] = mapped_column(
        sa.String(500)
    )  # pkcs12:<path under pki_dir> | pkcs11:<token>/<label>
    status: Mapped[str] = mapped_column(sa.String(10), default=STATUS_VALID)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revocation_reason: Mapped[str | None] = mapped_column(sa.String(32))
    is_current: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
