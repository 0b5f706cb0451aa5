"""edXML packages: attachments, content type, package signatures, signed-package policy

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 17:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "require_signed_packages", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_type", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("content_name", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("source", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("package_signature", sa.JSON(), nullable=True))
    op.create_table(
        "document_attachments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("document", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("content_type", sa.String(length=200), nullable=False),
        sa.Column("content_id", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("archive", sa.String(length=500), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("main", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["document"], ["documents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("document", "position"),
    )
    with op.batch_alter_table("document_attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_document_attachments_document"), ["document"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_document_attachments_sha256"), ["sha256"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("document_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_attachments_sha256"))
        batch_op.drop_index(batch_op.f("ix_document_attachments_document"))
    op.drop_table("document_attachments")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("package_signature")
        batch_op.drop_column("source")
        batch_op.drop_column("content_name")
        batch_op.drop_column("content_type")
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.drop_column("require_signed_packages")
