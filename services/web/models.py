"""What the web app owns: people, their sessions and activity, drafts, the outgoing
and incoming registers, assignments and batches. Documents themselves live in ingest."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import UtcDateTime


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    agency_code: Mapped[str] = mapped_column(sa.String(64), index=True)
    role: Mapped[str] = mapped_column(sa.String(20))
    full_name: Mapped[str] = mapped_column(sa.String(200), default="")
    title: Mapped[str] = mapped_column(sa.String(200), default="")
    password_hash: Mapped[str] = mapped_column(sa.Text)
    must_change_password: Mapped[bool] = mapped_column(default=True)
    pin_hash: Mapped[str | None] = mapped_column(sa.Text)  # unlocks signing with their key
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WebSession(Base):
    """A signed-in browser. The cookie holds a random token; only its hash is kept."""

    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    csrf: Mapped[str] = mapped_column(sa.String(64))
    language: Mapped[str] = mapped_column(sa.String(5), default="vi")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Activity(Base):
    __tablename__ = "activity"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.Integer)
    email: Mapped[str] = mapped_column(sa.String(254), default="")
    agency_code: Mapped[str] = mapped_column(sa.String(64), default="", index=True)
    action: Mapped[str] = mapped_column(sa.String(40))
    target: Mapped[str] = mapped_column(sa.String(200), default="")
    detail: Mapped[str] = mapped_column(sa.Text, default="")


class Draft(Base):
    """An outgoing document from upload to sending: drafted, signed by a leader
    (or returned), numbered and sealed by the clerk, then sent through ingest."""

    __tablename__ = "drafts"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    agency_code: Mapped[str] = mapped_column(sa.String(64), index=True)
    created_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    leader_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    state: Mapped[str] = mapped_column(sa.String(12), index=True)
    subject: Mapped[str] = mapped_column(sa.Text)
    type_name: Mapped[str] = mapped_column(sa.String(200))
    notation: Mapped[str] = mapped_column(sa.String(100))
    place: Mapped[str] = mapped_column(sa.String(200), default="")
    due_date: Mapped[date | None] = mapped_column(sa.Date)
    priority: Mapped[int] = mapped_column(default=0)
    original_sha256: Mapped[str] = mapped_column(sa.String(64))
    current_sha256: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    page_count: Mapped[int] = mapped_column(default=1)
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    signed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sign_page: Mapped[int | None] = mapped_column(sa.Integer)  # 1-based, of the signature
    sealed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    number: Mapped[int | None] = mapped_column(sa.Integer)
    issued_on: Mapped[date | None] = mapped_column(sa.Date)
    document: Mapped[str | None] = mapped_column(sa.String(36), index=True)  # ingest's id
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OutgoingEntry(Base):
    """Sổ văn bản đi: one line per issued document; numbers restart each year."""

    __tablename__ = "outgoing_register"
    __table_args__ = (sa.UniqueConstraint("agency_code", "year", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    agency_code: Mapped[str] = mapped_column(sa.String(64))
    year: Mapped[int] = mapped_column(sa.Integer)
    number: Mapped[int] = mapped_column(sa.Integer)
    draft_id: Mapped[str] = mapped_column(sa.ForeignKey("drafts.id"), unique=True)
    code: Mapped[str] = mapped_column(sa.String(160))
    issued_on: Mapped[date] = mapped_column(sa.Date)
    type_name: Mapped[str] = mapped_column(sa.String(200))
    subject: Mapped[str] = mapped_column(sa.Text)
    signer: Mapped[str] = mapped_column(sa.String(200))
    recipients: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    document: Mapped[str | None] = mapped_column(sa.String(36))
    paper: Mapped[bool] = mapped_column(default=False)


class IncomingEntry(Base):
    """Sổ văn bản đến: one line per registered delivery; numbers restart each year."""

    __tablename__ = "incoming_register"
    __table_args__ = (
        sa.UniqueConstraint("agency_code", "year", "number"),
        sa.UniqueConstraint("agency_code", "delivery_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    agency_code: Mapped[str] = mapped_column(sa.String(64))
    year: Mapped[int] = mapped_column(sa.Integer)
    number: Mapped[int] = mapped_column(sa.Integer)
    delivery_id: Mapped[str] = mapped_column(sa.String(36))
    document: Mapped[str] = mapped_column(sa.String(36))
    received_on: Mapped[date] = mapped_column(sa.Date)
    issuer: Mapped[str] = mapped_column(sa.String(64))
    code: Mapped[str] = mapped_column(sa.String(300))
    subject: Mapped[str] = mapped_column(sa.Text)
    registered_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    note: Mapped[str] = mapped_column(sa.Text, default="")


class Assignment(Base):
    """Giao việc: a registered document given to a person with a due date."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    agency_code: Mapped[str] = mapped_column(sa.String(64), index=True)
    delivery_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    document: Mapped[str] = mapped_column(sa.String(36))
    subject: Mapped[str] = mapped_column(sa.Text)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    due_date: Mapped[date] = mapped_column(sa.Date)
    state: Mapped[str] = mapped_column(sa.String(12), default="assigned")
    note: Mapped[str] = mapped_column(sa.Text, default="")
    assigned_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Batch(Base):
    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    agency_code: Mapped[str] = mapped_column(sa.String(64))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(sa.String(10))  # sign | seal
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class BatchItem(Base):
    __tablename__ = "batch_items"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(sa.ForeignKey("batches.id"), index=True)
    draft_id: Mapped[str] = mapped_column(sa.ForeignKey("drafts.id"))
    state: Mapped[str] = mapped_column(sa.String(10), default="waiting", index=True)
    message: Mapped[str] = mapped_column(sa.Text, default="")
    options: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
