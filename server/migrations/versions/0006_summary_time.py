"""summary time: when each ``user_days`` row was summed, so the history may serve a stale row that is recent

The background summariser (``server.summariser``) sums a day soon after ingest marks it stale; until it has, the
history ranges serve a row summed at most ``summary_max_age_s`` ago as it is (``server.days.usable``). Rows
already there have no time: a stale one is summed again by its next reader, as before.

Only a column and an index on ``day`` (the summariser reads the stale rows of the retention window's days) are
added (no batch copy on SQLite: see 0002).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 13:30:00
"""

import sqlalchemy as sa
from alembic import op

from server.models import UtcDateTime

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('user_days', sa.Column('summarised_at', UtcDateTime(), nullable=True))
    op.create_index('ix_user_days_day', 'user_days', ['day'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_user_days_day', table_name='user_days')
    op.execute(sa.text("ALTER TABLE user_days DROP COLUMN summarised_at"))
