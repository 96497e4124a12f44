"""day versions: ``user_days`` also serve the history ranges, so each row says whether minutes came since

``version`` is bumped by ingest for every day a batch added minutes to; ``summarised`` is the version the row's
sums were read at (``server.days``). The rows already there were folded from every minute of their day by the
retention pass: they are summed as of version 0.

Only columns are added (no batch copy on SQLite: see 0002).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 12:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('user_days', sa.Column('version', sa.Integer(), nullable=False, server_default='0'))
    op.add_column('user_days', sa.Column('summarised', sa.Integer(), nullable=True))
    op.execute(sa.text("UPDATE user_days SET summarised = 0"))


def downgrade() -> None:
    for column in ('summarised', 'version'):
        op.execute(sa.text(f"ALTER TABLE user_days DROP COLUMN {column}"))
