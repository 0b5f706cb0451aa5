"""Ingest's tables: agencies and their keys, documents, the delivery projection, webhooks."""

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


class Agency(Base):
    __tablename__ = "agencies"

    code: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(300))
    email: Mapped[str | None] = mapped_column(sa.String(254))  # hòm thư công vụ
    parent_code: Mapped[str | None] = mapped_column(sa.ForeignKey("agencies.code"))
    nonstandard_code: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The agency's edXML packages must carry a valid XML-DSig signature.
    require_signed_packages: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    agency_code: Mapped[str] = mapped_column(sa.ForeignKey("agencies.code"), index=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    label: Mapped[str] = mapped_column(sa.String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (sa.UniqueConstraint("sender_code", "idempotency_key"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    document_id: Mapped[str] = mapped_column(sa.String(300), index=True)
    sender_code: Mapped[str] = mapped_column(sa.ForeignKey("agencies.code"), index=True)
    recipients: Mapped[list[str]] = mapped_column(sa.JSON)
    subject: Mapped[str] = mapped_column(sa.Text)
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    page_count: Mapped[int]
    doc_metadata: Mapped[dict[str, object]] = mapped_column("metadata", sa.JSON)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(200))
    request_fingerprint: Mapped[str | None] = mapped_column(sa.String(64))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    verdict: Mapped[str | None] = mapped_column(sa.String(20))
    verification: Mapped[dict[str, object] | None] = mapped_column(sa.JSON)
    # edXML BussinessDocType 2 (update) or 3 (replace) of an earlier document.
    business_doc_type: Mapped[int] = mapped_column(default=0, server_default="0")
    supersedes: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    # What sha256 holds when it is not a PDF (an edXML package without one), its name.
    content_type: Mapped[str | None] = mapped_column(sa.String(200))
    content_name: Mapped[str | None] = mapped_column(sa.String(500))
    # How it arrived (None: the JSON API; "edxml": a package) and, for a package, its
    # XML-DSig verdict and signer.
    source: Mapped[str | None] = mapped_column(sa.String(10))
    package_signature: Mapped[dict[str, object] | None] = mapped_column(sa.JSON)


class DocumentAttachment(Base):
    """The files of a document that arrived as an edXML package, in the package's order;
    the one ``documents.sha256`` names is ``main``."""

    __tablename__ = "document_attachments"
    __table_args__ = (sa.UniqueConstraint("document", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    document: Mapped[str] = mapped_column(sa.ForeignKey("documents.id"), index=True)
    position: Mapped[int]  # 1, 2, ...
    name: Mapped[str] = mapped_column(sa.String(500))
    content_type: Mapped[str] = mapped_column(sa.String(200))
    content_id: Mapped[str] = mapped_column(sa.String(300), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    archive: Mapped[str | None] = mapped_column(sa.String(500))  # the zip it came out of
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    main: Mapped[bool] = mapped_column(default=False)


class Delivery(Base):
    """One recipient's copy: created from routing's events, filled by the connector."""

    __tablename__ = "deliveries"
    __table_args__ = (
        sa.UniqueConstraint("document", "recipient_code"),
        sa.Index("ix_deliveries_inbox", "recipient_code", "arrived_at"),
    )

    delivery_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    document: Mapped[str] = mapped_column(sa.ForeignKey("documents.id"), index=True)
    recipient_code: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str | None] = mapped_column(sa.String(2))
    status_seq: Mapped[int] = mapped_column(default=0)
    status_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    arrived_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Marks from routing's deadline scheduler (delivery.due_soon / delivery.overdue).
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    due_soon_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    overdue_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class DocumentVersion(Base):
    """Signed versions made by the signing service; version 1 is the document as received."""

    __tablename__ = "document_versions"
    __table_args__ = (sa.UniqueConstraint("document", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    document: Mapped[str] = mapped_column(sa.ForeignKey("documents.id"), index=True)
    version: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    profile: Mapped[str] = mapped_column(sa.String(20))
    level: Mapped[str] = mapped_column(sa.String(8))
    signer: Mapped[str] = mapped_column(sa.Text)
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Webhook(Base):
    """An agency's push endpoint: one per agency. The secret is encrypted (webhooks.SecretBox)."""

    __tablename__ = "webhooks"

    agency_code: Mapped[str] = mapped_column(sa.ForeignKey("agencies.code"), primary_key=True)
    url: Mapped[str] = mapped_column(sa.Text)
    events: Mapped[list[str]] = mapped_column(sa.JSON)  # empty: every event
    secret: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WebhookJob(Base):
    """One push to make: queued in the transaction that changed the projection (an outbox
    of HTTP calls), sent by the webhook worker, retried, then delivered or dead."""

    __tablename__ = "webhook_jobs"
    __table_args__ = (
        # The same event seen twice (a status applied at once and again from its event)
        # is pushed once.
        sa.UniqueConstraint("agency_code", "dedupe_key"),
        sa.Index(
            "ix_webhook_jobs_due",
            "next_attempt_at",
            postgresql_where=sa.text("delivered_at IS NULL AND dead_at IS NULL"),
            sqlite_where=sa.text("delivered_at IS NULL AND dead_at IS NULL"),
        ),
        sa.Index("ix_webhook_jobs_agency", "agency_code", "created_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)  # X-LienThong-Delivery
    agency_code: Mapped[str] = mapped_column(sa.ForeignKey("agencies.code"))
    event: Mapped[str] = mapped_column(sa.String(50))
    dedupe_key: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # A manual retry restarts the bounded age from here.
    retried_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    dead_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_status: Mapped[int | None]  # the receiver's HTTP status, when it answered
    last_error: Mapped[str | None] = mapped_column(sa.Text)
