"""retention: a team's choice to keep day totals, the day totals table, batch ids findable by age

Existing teams keep no day totals (``keep_day_totals`` false): past the retention window nothing of a day is
left unless an admin turns it on (``teams set NAME --keep-day-totals yes``). ``batches.received_at`` is
indexed so the retention pass finds old batch ids without reading the whole table.

Only a column, a table and an index are added (no batch copy on SQLite: see 0002).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 12:40:00
"""

import sqlalchemy as sa
from alembic import op

import server.models

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('teams', sa.Column('keep_day_totals', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index(op.f('ix_batches_received_at'), 'batches', ['received_at'], unique=False)
    op.create_table('user_days',
                    sa.Column('user_id', sa.Integer(), nullable=False),
                    sa.Column('day', sa.Date(), nullable=False),
                    sa.Column('time_zone', sa.String(length=64), nullable=False),
                    sa.Column('tracked_s', sa.Integer(), nullable=False),
                    sa.Column('active_s', sa.Integer(), nullable=False),
                    sa.Column('idle_s', sa.Integer(), nullable=False),
                    sa.Column('break_s', sa.Integer(), nullable=False),
                    sa.Column('input_s', sa.Integer(), nullable=False),
                    sa.Column('keys', sa.Integer(), nullable=False),
                    sa.Column('clicks', sa.Integer(), nullable=False),
                    sa.Column('scrolls', sa.Integer(), nullable=False),
                    sa.Column('mouse_px', sa.BigInteger(), nullable=False),
                    sa.Column('activity_pct', sa.Float(), nullable=False),
                    sa.Column('first_activity', server.models.UtcDateTime(), nullable=True),
                    sa.Column('last_activity', server.models.UtcDateTime(), nullable=True),
                    sa.Column('hours', sa.Text(), nullable=False),
                    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_days_user_id_users')),
                    sa.PrimaryKeyConstraint('user_id', 'day', name=op.f('pk_user_days')))


def downgrade() -> None:
    op.drop_table('user_days')
    op.drop_index(op.f('ix_batches_received_at'), table_name='batches')
    op.execute(sa.text("ALTER TABLE teams DROP COLUMN keep_day_totals"))
