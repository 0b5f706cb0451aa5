"""e-share ledger: the open-work index by recipient, due time and id

The overdue list is each recipient's open work in due-time order: the index now keeps
that order, so a page reads a few entries per agency instead of every open delivery
of the scope (then sorted).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 20:10:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OPEN = sa.text("due_state = 'open'")


def upgrade() -> None:
    with op.batch_alter_table('ledger_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_deliveries_open', postgresql_include=['due_at', 'delivery_id'], postgresql_where=OPEN, sqlite_where=OPEN)
        batch_op.create_index('ix_ledger_deliveries_open_due', ['recipient_code', 'due_at', 'delivery_id'], unique=False, postgresql_where=OPEN, sqlite_where=OPEN)


def downgrade() -> None:
    with op.batch_alter_table('ledger_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_deliveries_open_due', postgresql_where=OPEN, sqlite_where=OPEN)
        batch_op.create_index('ix_ledger_deliveries_open', ['recipient_code', 'due_day'], unique=False, postgresql_include=['due_at', 'delivery_id'], postgresql_where=OPEN, sqlite_where=OPEN)
