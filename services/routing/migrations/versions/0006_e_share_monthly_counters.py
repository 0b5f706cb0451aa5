"""e-share ledger: monthly counters, latency as one row of bucket columns, the open-work index

The latency counters change shape (one row per agency, period and kind, a column per
bucket); they and the new monthly counters are filled here from the ledger's rows, so
no rebuild is needed after upgrading.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 18:10:55.449160

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

BUCKETS = [f"b{i:02d}" for i in range(18)]  # ledger.rules.LATENCY_BOUNDS, and one beyond
COUNTERS = ["exchanges", "fully_electronic", "signed", "taken_back", "due", "on_time", "late", "open"]


def _latency_table(name: str, period: str) -> None:
    op.create_table(
        name,
        sa.Column('agency', sa.String(length=64), nullable=False),
        sa.Column(period, sa.Date(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        *(sa.Column(b, sa.Integer(), nullable=False) for b in BUCKETS),
        sa.PrimaryKeyConstraint('agency', period, 'kind'),
    )


def _month(column: str) -> str:
    if op.get_bind().dialect.name == "postgresql":
        return f"CAST(date_trunc('month', {column}) AS date)"
    return f"date({column}, 'start of month')"


def upgrade() -> None:
    """Upgrade schema."""
    op.drop_table('ledger_latency')
    _latency_table('ledger_latency', 'day')
    _latency_table('ledger_latency_monthly', 'month')
    op.create_table('ledger_monthly',
    sa.Column('agency', sa.String(length=64), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    *(sa.Column(c, sa.Integer(), nullable=False) for c in COUNTERS),
    sa.PrimaryKeyConstraint('agency', 'month')
    )
    with op.batch_alter_table('ledger_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_deliveries_open', ['recipient_code', 'due_day'], unique=False, postgresql_include=['due_at', 'delivery_id'], postgresql_where=sa.text("due_state = 'open'"), sqlite_where=sa.text("due_state = 'open'"))

    # The counters of the ledger's rows, as `lienthong ledger rebuild` sums them.
    for kind, column in (("sent_01", "delivery_bucket"), ("01_03", "registration_bucket")):
        sums = ", ".join(f"SUM(CASE WHEN {column} = {i} THEN 1 ELSE 0 END)" for i in range(len(BUCKETS)))
        op.execute(
            f"INSERT INTO ledger_latency (agency, day, kind, {', '.join(BUCKETS)}) "
            f"SELECT sender_code, sent_day, '{kind}', {sums} FROM ledger_deliveries "
            f"WHERE {column} IS NOT NULL GROUP BY sender_code, sent_day"
        )
    month = _month("day")
    op.execute(
        f"INSERT INTO ledger_monthly (agency, month, {', '.join(COUNTERS)}) "
        f"SELECT agency, {month}, {', '.join(f'SUM({c})' for c in COUNTERS)} "
        f"FROM ledger_daily GROUP BY agency, {month}"
    )
    op.execute(
        f"INSERT INTO ledger_latency_monthly (agency, month, kind, {', '.join(BUCKETS)}) "
        f"SELECT agency, {month}, kind, {', '.join(f'SUM({b})' for b in BUCKETS)} "
        f"FROM ledger_latency GROUP BY agency, {month}, kind"
    )


def downgrade() -> None:
    """Downgrade schema: the latency counters go back to one row per bucket, empty
    (run `lienthong ledger rebuild` with the code of that revision)."""
    with op.batch_alter_table('ledger_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_deliveries_open', postgresql_include=['due_at', 'delivery_id'], postgresql_where=sa.text("due_state = 'open'"), sqlite_where=sa.text("due_state = 'open'"))
    op.drop_table('ledger_monthly')
    op.drop_table('ledger_latency_monthly')
    op.drop_table('ledger_latency')
    op.create_table('ledger_latency',
    sa.Column('agency', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('bucket', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('agency', 'day', 'kind', 'bucket')
    )
