"""e-share ledger: the exchanges by sender, sent time and id

The exchanges behind a figure are listed oldest first. With this index a page reads
each sending agency's first entries in that order, instead of sorting every exchange
of the scope (a national office's two years: a million). On PostgreSQL the index
also holds the sent day and the classification, so that the rows a page passes over
are filtered without reading the table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 00:20:00.000000

"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('ledger_exchanges', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_exchanges_sender_sent', ['sender_code', 'sent_at', 'document'], unique=False, postgresql_include=['sent_day', 'fully_electronic'])


def downgrade() -> None:
    with op.batch_alter_table('ledger_exchanges', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_exchanges_sender_sent')
