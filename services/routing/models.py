"""Routing's tables: the agency mirror, exchanges, deliveries and their status events,
signature verdicts, queued emails, and the audit chain."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.common.bus.tables import add_bus_tables
from services.common.db import UtcDateTime
from services.routing.deadlines.rules import DONE
from services.routing.ledger.rules import LATENCY_BUCKETS, bucket_column


class Base(DeclarativeBase):
    pass


BUS = add_bus_tables(Base.metadata)


class Agency(Base):
    """Mirror of ingest's registry, kept from agency.registered events."""

    __tablename__ = "agencies"

    code: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(300))
    parent_code: Mapped[str | None] = mapped_column(sa.String(64))
    nonstandard_code: Mapped[bool] = mapped_column(default=False)
    # The official mailbox (hòm thư công vụ), from agency.registered v2: deadline notices.
    email: Mapped[str | None] = mapped_column(sa.String(320))


class Exchange(Base):
    """One document sent by one agency to its recipients."""

    __tablename__ = "exchanges"

    document: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    document_id: Mapped[str] = mapped_column(sa.String(300), index=True)
    sender_code: Mapped[str] = mapped_column(sa.String(64), index=True)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    subject: Mapped[str] = mapped_column(sa.Text)
    paper: Mapped[int]
    priority: Mapped[int]
    due_date: Mapped[date | None]
    doc_metadata: Mapped[dict[str, object]] = mapped_column("metadata", sa.JSON)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # edXML BussinessDocType: 0 new, 2 update, 3 replace (of `supersedes`).
    business_doc_type: Mapped[int] = mapped_column(default=0, server_default="0")
    supersedes: Mapped[str | None] = mapped_column(sa.String(36), index=True)


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (sa.UniqueConstraint("document", "recipient_code"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    document: Mapped[str] = mapped_column(sa.ForeignKey("exchanges.document"), index=True)
    recipient_code: Mapped[str] = mapped_column(sa.String(64), index=True)
    status: Mapped[str | None] = mapped_column(sa.String(2))
    before_take_back: Mapped[str | None] = mapped_column(sa.String(2))
    seq: Mapped[int] = mapped_column(default=0)
    dispatched_at: Mapped[datetime] = mapped_column(UtcDateTime)
    arrived_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    due_soon_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    due_soon_sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    overdue_sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # A pending or answered take-back: recall (1), update (2) or replace (3).
    take_back_kind: Mapped[str | None] = mapped_column(sa.String(10))
    take_back_reason: Mapped[str | None] = mapped_column(sa.Text)
    replaced_by: Mapped[str | None] = mapped_column(sa.String(36))
    # Never loaded (lazy="raise"); declared so that one flush inserts an exchange
    # before its deliveries, with no flush in between.
    exchange: Mapped[Exchange] = relationship(lazy="raise")


class StatusEvent(Base):
    __tablename__ = "status_events"
    __table_args__ = (sa.UniqueConstraint("delivery_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(sa.ForeignKey("deliveries.id"), index=True)
    seq: Mapped[int]
    code: Mapped[str] = mapped_column(sa.String(2))
    status_after: Mapped[str | None] = mapped_column(sa.String(2))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    reported_by: Mapped[str] = mapped_column(sa.String(64))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    staff: Mapped[dict[str, object]] = mapped_column(sa.JSON, default=dict)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Never loaded: orders a new delivery's insert before its events' in one flush.
    delivery: Mapped[Delivery] = relationship(lazy="raise")


class SignatureVerdict(Base):
    """The signing service's verdict on a document as it arrived: one input of the
    e-document share. Keyed by document alone, so it may arrive before the exchange."""

    __tablename__ = "signature_verdicts"

    document: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    verdict: Mapped[str] = mapped_column(sa.String(20))
    organization_signed: Mapped[bool]
    signers: Mapped[list[str]] = mapped_column(sa.JSON)
    verified_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Pages with images only and no text layer (document.verified v2); None: not told.
    scanned: Mapped[bool | None]


class LedgerExchange(Base):
    """The e-share ledger: one row per exchange, the facts the definition needs and
    the classification they give (``services.routing.ledger``)."""

    __tablename__ = "ledger_exchanges"
    __table_args__ = (
        sa.Index("ix_ledger_exchanges_sender_day", "sender_code", "sent_day"),
        # The listing's order per sender: a page reads a few entries per agency, and
        # filters them on the index alone (PostgreSQL).
        sa.Index(
            "ix_ledger_exchanges_sender_sent",
            "sender_code",
            "sent_at",
            "document",
            postgresql_include=["sent_day", "fully_electronic", "reasons"],
        ),
    )

    document: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    document_id: Mapped[str] = mapped_column(sa.String(300))
    sender_code: Mapped[str] = mapped_column(sa.String(64))
    subject: Mapped[str] = mapped_column(sa.Text)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_day: Mapped[date]  # the Vietnam calendar day it was sent
    scanned: Mapped[bool | None]
    organization_signed: Mapped[bool | None]
    paper: Mapped[bool]
    replaced: Mapped[bool] = mapped_column(default=False)
    fully_electronic: Mapped[bool] = mapped_column(default=False)
    signed: Mapped[bool] = mapped_column(default=False)
    taken_back: Mapped[bool] = mapped_column(default=False)
    reasons: Mapped[str] = mapped_column(sa.String(200), default="")


class LedgerDelivery(Base):
    """The e-share ledger: one row per delivery (recipient's copy)."""

    __tablename__ = "ledger_deliveries"
    __table_args__ = (
        sa.Index("ix_ledger_deliveries_recipient_due", "recipient_code", "due_day"),
        sa.Index("ix_ledger_deliveries_sender_day", "sender_code", "sent_day"),
        # The overdue work: open deliveries only, however many were completed; each
        # recipient's in the order they are listed (most overdue first).
        sa.Index(
            "ix_ledger_deliveries_open_due",
            "recipient_code",
            "due_at",
            "delivery_id",
            postgresql_where=sa.text("due_state = 'open'"),
            sqlite_where=sa.text("due_state = 'open'"),
        ),
    )

    delivery_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    document: Mapped[str] = mapped_column(sa.String(36), index=True)
    sender_code: Mapped[str] = mapped_column(sa.String(64))
    recipient_code: Mapped[str] = mapped_column(sa.String(64))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_day: Mapped[date]
    arrived_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    registered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    rejected: Mapped[bool] = mapped_column(default=False)
    taken_back: Mapped[bool] = mapped_column(default=False)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    due_day: Mapped[date | None]  # the Vietnam day of due_at
    due_state: Mapped[str] = mapped_column(sa.String(10))
    # Latency buckets (ledger.rules.LATENCY_BOUNDS), once both ends are known.
    delivery_bucket: Mapped[int | None]  # sent → 01
    registration_bucket: Mapped[int | None]  # 01 → 03


class _LedgerCounters:
    """The counters ``LedgerDaily`` and ``LedgerMonthly`` both keep (DAILY_COUNTERS)."""

    exchanges: Mapped[int] = mapped_column(default=0)
    fully_electronic: Mapped[int] = mapped_column(default=0)
    signed: Mapped[int] = mapped_column(default=0)
    taken_back: Mapped[int] = mapped_column(default=0)
    due: Mapped[int] = mapped_column(default=0)
    on_time: Mapped[int] = mapped_column(default=0)
    late: Mapped[int] = mapped_column(default=0)
    open: Mapped[int] = mapped_column(default=0)
    # Exchanges per reason they are not fully electronic (REASON_COUNTERS): the total
    # of a listing filtered by reason, without counting rows.
    reason_scanned: Mapped[int] = mapped_column(default=0)
    reason_scan_unknown: Mapped[int] = mapped_column(default=0)
    reason_not_verified: Mapped[int] = mapped_column(default=0)
    reason_not_signed: Mapped[int] = mapped_column(default=0)
    reason_paper: Mapped[int] = mapped_column(default=0)
    reason_not_delivered: Mapped[int] = mapped_column(default=0)
    reason_rejected: Mapped[int] = mapped_column(default=0)
    reason_not_registered: Mapped[int] = mapped_column(default=0)
    reason_taken_back: Mapped[int] = mapped_column(default=0)


class LedgerDaily(_LedgerCounters, Base):
    """Per agency and Vietnam day: the counters the metrics sum. The sent-side
    counters are the agency's exchanges by the day they were sent; the due-side ones
    its deliveries (work addressed to it) by the day they fell due."""

    __tablename__ = "ledger_daily"

    agency: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)


class LedgerMonthly(_LedgerCounters, Base):
    """``LedgerDaily`` summed per calendar month (``month`` is its first day): long
    periods read a row per month where they cover whole months."""

    __tablename__ = "ledger_monthly"

    agency: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    month: Mapped[date] = mapped_column(primary_key=True)


def _latency_table(name: str, period: str) -> sa.Table:
    """Per sending agency, period (a Vietnam day, or a month by its first day) and kind
    (sent → 01, 01 → 03): how many deliveries fell in each latency bucket, one column
    per bucket (``b00`` … of ``ledger.rules.LATENCY_BOUNDS``, the last unbounded);
    percentiles are read from the summed columns."""
    return sa.Table(
        name,
        Base.metadata,
        sa.Column("agency", sa.String(64), primary_key=True),
        sa.Column(period, sa.Date, primary_key=True),
        sa.Column("kind", sa.String(10), primary_key=True),
        *(
            sa.Column(bucket_column(i), sa.Integer, nullable=False, default=0)
            for i in range(LATENCY_BUCKETS)
        ),
    )


class LedgerLatency(Base):
    __table__ = _latency_table("ledger_latency", "day")


class LedgerLatencyMonthly(Base):
    """``LedgerLatency`` summed per calendar month."""

    __table__ = _latency_table("ledger_latency_monthly", "month")


class Notification(Base):
    """An email to send (deadline notices), written in the transaction that decides it
    and sent by the mail worker afterwards: never inside a database transaction."""

    __tablename__ = "notifications"
    __table_args__ = (
        sa.Index(
            "ix_notifications_pending",
            "next_attempt_at",
            postgresql_where=sa.text("sent_at IS NULL AND dead_at IS NULL"),
            sqlite_where=sa.text("sent_at IS NULL AND dead_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    kind: Mapped[str] = mapped_column(sa.String(40))  # e.g. overdue.sender
    delivery_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    to_address: Mapped[str] = mapped_column(sa.String(320))
    subject: Mapped[str] = mapped_column(sa.Text)
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    dead_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.Text)


class AuditRecord(Base):
    """One record of the tamper-evident audit chain (``services.routing.audit``)."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(sa.String(40))
    document: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    delivery: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    agency: Mapped[str | None] = mapped_column(sa.String(64))
    payload: Mapped[dict[str, object]] = mapped_column(sa.JSON)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))


class AuditHead(Base):
    """The chain's tip; locking it orders every append."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(sa.BigInteger)
    last_hash: Mapped[str] = mapped_column(sa.String(64))


# The deadline scanner's work lists: open deliveries whose notice is still owed. Small
# however many deliveries were completed; the scanner's queries repeat this exact text,
# so PostgreSQL can prove they match the index predicate.
OPEN_STATUS_SQL = "(status IS NULL OR status NOT IN ({}))".format(
    ", ".join(f"'{code}'" for code in sorted(DONE))
)
for _column, _mark, _name in (
    (Delivery.due_soon_at, "due_soon_sent_at", "ix_deliveries_due_soon_owed"),
    (Delivery.due_at, "overdue_sent_at", "ix_deliveries_overdue_owed"),
):
    sa.Index(
        _name,
        _column,
        postgresql_where=sa.text(f"{_mark} IS NULL AND {OPEN_STATUS_SQL}"),
        sqlite_where=sa.text(f"{_mark} IS NULL AND {OPEN_STATUS_SQL}"),
    )
