"""Signing's tables: the documents it knows, their versions, appearance images.
The PKI's certificates live in services/signing/pki/models.py on the same Base."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.bus.tables import add_bus_tables
from services.common.db import UtcDateTime


class Base(DeclarativeBase):
    pass


BUS = add_bus_tables(Base.metadata)


class KnownDocument(Base):
    """Documents announced by ingest (document.received), with the verdict on arrival."""

    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    document_id: Mapped[str] = mapped_column(sa.String(300))
    sender_code: Mapped[str] = mapped_column(sa.String(64), index=True)
    # The agencies it was sent to (document.received): who else may sign it (a copy).
    recipients: Mapped[list[str] | None] = mapped_column(sa.JSON)
    sha256: Mapped[str] = mapped_column(sa.String(64))  # the version as received
    size: Mapped[int] = mapped_column(sa.BigInteger)
    doc_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", sa.JSON)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    verdict: Mapped[str | None] = mapped_column(sa.String(20))
    verification: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class DocumentVersion(Base):
    """Each signature makes a new content-addressed version; earlier ones stay."""

    __tablename__ = "document_versions"
    __table_args__ = (sa.UniqueConstraint("document", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    document: Mapped[str] = mapped_column(sa.ForeignKey("documents.id"), index=True)
    version: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    previous_sha256: Mapped[str] = mapped_column(sa.String(64))
    profile: Mapped[str] = mapped_column(sa.String(20))
    level: Mapped[str] = mapped_column(sa.String(8))
    field_name: Mapped[str] = mapped_column(sa.String(100))
    certificate_serial: Mapped[str] = mapped_column(sa.String(40))
    signer_subject: Mapped[str] = mapped_column(sa.Text)
    signed_by: Mapped[str] = mapped_column(sa.String(200))  # who asked (user or service)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AppearanceImage(Base):
    """An agency's seal or a leader's handwritten signature (transparent PNG)."""

    __tablename__ = "appearance_images"
    __table_args__ = (sa.Index("ix_images_owner", "agency_code", "kind", "person", "is_current"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    agency_code: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(10))  # seal | signature
    person: Mapped[str | None] = mapped_column(sa.String(200))  # for signatures
    png: Mapped[bytes] = mapped_column(sa.LargeBinary)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    width_mm: Mapped[float]
    height_mm: Mapped[float]
    is_current: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
