"""server settings: the retention window ``serve`` runs with, for ``staffpulse-server report`` to read

Only a new table, empty until the next ``serve`` starts (``report`` falls back to the default 30 days then).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 13:40:00
"""

import sqlalchemy as sa
from alembic import op

import server.models

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('server_settings',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('retention_days', sa.Integer(), nullable=False),
                    sa.Column('recorded_at', server.models.UtcDateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_server_settings')))


def downgrade() -> None:
    op.drop_table('server_settings')
