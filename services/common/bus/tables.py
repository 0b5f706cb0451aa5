"""The bus bookkeeping tables every service keeps in its own database."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from services.common.db import UtcDateTime


@dataclass(frozen=True)
class BusTables:
    outbox: sa.Table
    processed: sa.Table
    failures: sa.Table


def add_bus_tables(metadata: sa.MetaData) -> BusTables:
    outbox = sa.Table(
        "outbox",
        metadata,
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("message_id", sa.String(36), nullable=False, unique=True),
        sa.Column("exchange", sa.String(100), nullable=False),
        sa.Column("routing_key", sa.String(200), nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("published_at", UtcDateTime, nullable=True),
    )
    sa.Index(
        "ix_outbox_unpublished",
        outbox.c.id,
        postgresql_where=outbox.c.published_at.is_(None),
        sqlite_where=outbox.c.published_at.is_(None),
    )
    processed = sa.Table(
        "processed_messages",
        metadata,
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("message_id", sa.String(100), primary_key=True),
        sa.Column("processed_at", UtcDateTime, nullable=False),
    )
    failures = sa.Table(
        "message_failures",
        metadata,
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("message_id", sa.String(100), primary_key=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    return BusTables(outbox=outbox, processed=processed, failures=failures)
