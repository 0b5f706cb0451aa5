"""documents.recipients: a document's parties, for the signing party rule

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:00:00.000000

Written by hand. Documents recorded before this revision get their recipients from
their normalized edXML metadata (``To[].OrganId``), as ingest validated them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _recipients(metadata: object) -> list[str]:
    """``To[].OrganId`` of a document's normalized metadata (kept here, not imported:
    a migration must not change when the code does)."""
    to = metadata.get("To") if isinstance(metadata, dict) else None
    if not isinstance(to, list):
        return []
    found = [item.get("OrganId") for item in to if isinstance(item, dict)]
    return [code.strip() for code in found if isinstance(code, str) and code.strip()]


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipients", sa.JSON(), nullable=True))
    documents = sa.table(
        "documents",
        sa.column("id", sa.String(36)),
        sa.column("metadata", sa.JSON()),
        sa.column("recipients", sa.JSON()),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(documents.c.id, documents.c.metadata)).all()
    for row in rows:
        connection.execute(
            sa.update(documents)
            .where(documents.c.id == row.id)
            .values(recipients=_recipients(row.metadata))
        )


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("recipients")
