"""e-share ledger: room on each page for the rows' updates

A ledger row is written when its exchange is routed, then updated as each copy
arrives, is registered and is completed. With pages filled to the brim every update
moved the row to another page and wrote a new entry into each of its indexes; with
room left on the page, PostgreSQL updates in place (a HOT update) when no indexed
column changes, as on arrival and registration. Only pages written from now on are
affected. SQLite has no such setting.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 23:55:00.000000

"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLES = ('ledger_deliveries', 'ledger_exchanges')


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table in TABLES:
            op.execute(f'ALTER TABLE {table} SET (fillfactor = 70)')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table in TABLES:
            op.execute(f'ALTER TABLE {table} RESET (fillfactor)')
