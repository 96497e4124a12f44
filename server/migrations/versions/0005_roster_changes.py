"""roster changes: what the announce pass tells the team's sockets (members joined, left, renamed)

Only a new table. Changes made before it are not announced (clients re-read the team at every connect).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 12:40:00
"""

import sqlalchemy as sa
from alembic import op

import server.models

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('roster_changes',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('team_id', sa.Integer(), nullable=False),
                    sa.Column('user_id', sa.Integer(), nullable=False),
                    sa.Column('change', sa.String(length=10), nullable=False),
                    sa.Column('name', sa.String(length=200), nullable=False),
                    sa.Column('role', sa.String(length=20), nullable=False),
                    sa.Column('at', server.models.UtcDateTime(), nullable=False),
                    sa.Column('announced_at', server.models.UtcDateTime(), nullable=True),
                    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_roster_changes_team_id_teams')),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_changes')))
    op.create_index(op.f('ix_roster_changes_announced_at'), 'roster_changes', ['announced_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_roster_changes_announced_at'), table_name='roster_changes')
    op.drop_table('roster_changes')
