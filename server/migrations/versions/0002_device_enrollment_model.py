"""device enrollment model: pending devices, how each was enrolled, keyed code digests

Devices enrolled before this revision are active and ``legacy`` (how they were enrolled was not recorded), and
already announced, so nobody is told of them again. Enrollment codes are now stored as an HMAC under the
server's secret instead of a plain SHA-256 (server/security.py); an unused old code could never match again,
so they are deleted here and the admin issues new ones. Used codes stay as history.

Only columns and an index are added, no constraint: SQLite can add a constraint only by copying the table,
and with foreign keys on it refuses to drop ``devices`` while minutes point at it. So ``deployment_key_id``
has no foreign key (keys are revoked, never deleted).

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
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_adds_devices', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('approved_at', server.models.UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column('enrolled_via', sa.String(length=10), nullable=False,
                                      server_default='legacy'))
        batch_op.add_column(sa.Column('deployment_key_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('announced_at', server.models.UtcDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_devices_announced_at'), ['announced_at'], unique=False)

    op.execute(sa.text("UPDATE devices SET announced_at = created_at"))
    op.execute(sa.text("DELETE FROM enrollment_codes WHERE used_at IS NULL"))


def downgrade() -> None:
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_devices_announced_at'))
        batch_op.drop_column('announced_at')
        batch_op.drop_column('deployment_key_id')
        batch_op.drop_column('enrolled_via')
        batch_op.drop_column('approved_at')
        batch_op.drop_column('pending')

    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.drop_column('key_adds_devices')
