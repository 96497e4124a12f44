"""device enrollment model: pending devices, how each was enrolled, keyed code digests and their secret's check

Devices enrolled before this revision are active and ``legacy`` (how they were enrolled was not recorded), and
already announced, so nobody is told of them again. Enrollment codes are now stored as an HMAC under the
server's secret instead of a plain SHA-256 (server/security.py); an unused old code could never match again,
so they are deleted here and the admin issues new ones. Used codes stay as history.

Only columns and an index are added, with plain ALTER TABLE (no batch copy), and no constraint: SQLite can
add a constraint only by copying the table, and with foreign keys on it refuses to drop ``devices`` while
minutes point at it. So ``deployment_key_id`` has no foreign key (keys are revoked, never deleted).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 04:30:00
"""

import sqlalchemy as sa
from alembic import op

import server.models

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('teams', sa.Column('key_adds_devices', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('devices', sa.Column('pending', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('devices', sa.Column('approved_at', server.models.UtcDateTime(), nullable=True))
    op.add_column('devices', sa.Column('enrolled_via', sa.String(length=10), nullable=False, server_default='legacy'))
    op.add_column('devices', sa.Column('deployment_key_id', sa.Integer(), nullable=True))
    op.add_column('devices', sa.Column('announced_at', server.models.UtcDateTime(), nullable=True))
    op.create_index(op.f('ix_devices_announced_at'), 'devices', ['announced_at'], unique=False)

    op.create_table('code_secret_check',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('verifier', sa.String(length=64), nullable=False),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_code_secret_check')))

    op.execute(sa.text("UPDATE devices SET announced_at = created_at"))
    op.execute(sa.text("DELETE FROM enrollment_codes WHERE used_at IS NULL"))


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): Alembic's batch mode would copy the table on SQLite, and
    # dropping a table that rows of other tables point at is refused by SQLite's foreign key checks.
    op.drop_table('code_secret_check')
    op.drop_index(op.f('ix_devices_announced_at'), table_name='devices')
    for column in ('announced_at', 'deployment_key_id', 'enrolled_via', 'approved_at', 'pending'):
        op.execute(sa.text(f"ALTER TABLE devices DROP COLUMN {column}"))
    op.execute(sa.text("ALTER TABLE teams DROP COLUMN key_adds_devices"))
