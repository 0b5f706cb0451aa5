"""e-share ledger: counters per reason, and the reasons in the listing's index

The exchanges behind a figure can be filtered by the reason they are not fully
electronic. Their total counted the rows one by one (a national office's two years:
several seconds); the daily and monthly counters now keep one column per reason,
filled here from the ledger's rows, so no rebuild is needed after upgrading. On
PostgreSQL the listing's index also holds the reasons, so that a page filtered by
reason passes over the rows it skips without reading the table.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 02:10:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0010'
down_revision: Union[str, Sequence[str], None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# ledger.rules.Reason, in order; each counted in ledger.counters.REASON_COUNTERS.
REASONS = [
    'scanned', 'scan_unknown', 'not_verified', 'not_signed', 'paper',
    'not_delivered', 'rejected', 'not_registered', 'taken_back',
]
COLUMNS = [f'reason_{r}' for r in REASONS]
TABLES = ('ledger_daily', 'ledger_monthly')
INDEX = 'ix_ledger_exchanges_sender_sent'


def _month(column: str) -> str:
    if op.get_bind().dialect.name == 'postgresql':
        return f"CAST(date_trunc('month', {column}) AS date)"
    return f"date({column}, 'start of month')"


def _listing_index(include: list[str]) -> None:
    with op.batch_alter_table('ledger_exchanges', schema=None) as batch_op:
        batch_op.drop_index(INDEX)
        batch_op.create_index(INDEX, ['sender_code', 'sent_at', 'document'], unique=False, postgresql_include=include)


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in COLUMNS:
                batch_op.add_column(sa.Column(column, sa.Integer(), nullable=False, server_default='0'))
    # The counters of the ledger's rows, as `lienthong ledger rebuild` sums them.
    sums = ', '.join(
        f"SUM(CASE WHEN ',' || reasons || ',' LIKE '%,{r},%' THEN 1 ELSE 0 END) AS {c}"
        for r, c in zip(REASONS, COLUMNS)
    )
    op.execute(
        f"UPDATE ledger_daily SET {', '.join(f'{c} = s.{c}' for c in COLUMNS)} "
        f"FROM (SELECT sender_code, sent_day, {sums} FROM ledger_exchanges "
        "GROUP BY sender_code, sent_day) AS s "
        "WHERE ledger_daily.agency = s.sender_code AND ledger_daily.day = s.sent_day"
    )
    month = _month('day')
    op.execute(
        f"UPDATE ledger_monthly SET {', '.join(f'{c} = s.{c}' for c in COLUMNS)} "
        f"FROM (SELECT agency, {month} AS month, "
        f"{', '.join(f'SUM({c}) AS {c}' for c in COLUMNS)} FROM ledger_daily "
        f"GROUP BY agency, {month}) AS s "
        "WHERE ledger_monthly.agency = s.agency AND ledger_monthly.month = s.month"
    )
    # The feed writes every counter; the default served only the rows above.
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in COLUMNS:
                batch_op.alter_column(column, server_default=None)
    _listing_index(['sent_day', 'fully_electronic', 'reasons'])


def downgrade() -> None:
    _listing_index(['sent_day', 'fully_electronic'])
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in COLUMNS:
                batch_op.drop_column(column)
