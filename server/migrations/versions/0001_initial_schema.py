"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 20:59:21.240562
"""

import sqlalchemy as sa
from alembic import op

import server.models

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('teams',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('idle_threshold_s', sa.Integer(), nullable=False),
    sa.Column('sync_interval_s', sa.Integer(), nullable=False),
    sa.Column('pause_allowed', sa.Boolean(), nullable=False),
    sa.Column('created_at', server.models.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teams')),
    sa.UniqueConstraint('name', name=op.f('uq_teams_name'))
    )
    op.create_table('deployment_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('allow_create', sa.Boolean(), nullable=False),
    sa.Column('created_at', server.models.UtcDateTime(), nullable=False),
    sa.Column('revoked_at', server.models.UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_deployment_keys_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deployment_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_deployment_keys_key_hash'))
    )
    with op.batch_alter_table('deployment_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deployment_keys_team_id'), ['team_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('login', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('created_at', server.models.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_users_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('login', name=op.f('uq_users_login'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_team_id'), ['team_id'], unique=False)

    op.create_table('devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('platform', sa.String(length=40), nullable=False),
    sa.Column('agent_version', sa.String(length=40), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', server.models.UtcDateTime(), nullable=False),
    sa.Column('last_seen', server.models.UtcDateTime(), nullable=True),
    sa.Column('revoked_at', server.models.UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_devices_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_devices_token_hash'))
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_devices_user_id'), ['user_id'], unique=False)

    op.create_table('enrollment_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', server.models.UtcDateTime(), nullable=False),
    sa.Column('used_at', server.models.UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_enrollment_codes_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrollment_codes')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_enrollment_codes_code_hash'))
    )
    with op.batch_alter_table('enrollment_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrollment_codes_user_id'), ['user_id'], unique=False)

    op.create_table('user_presence',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('since', server.models.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_presence_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_user_presence'))
    )
    op.create_table('activity_slots',
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('start', server.models.UtcDateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('tracked_s', sa.Integer(), nullable=False),
    sa.Column('active_s', sa.Integer(), nullable=False),
    sa.Column('idle_s', sa.Integer(), nullable=False),
    sa.Column('break_s', sa.Integer(), nullable=False),
    sa.Column('input_s', sa.Integer(), nullable=False),
    sa.Column('keys', sa.Integer(), nullable=False),
    sa.Column('clicks', sa.Integer(), nullable=False),
    sa.Column('scrolls', sa.Integer(), nullable=False),
    sa.Column('mouse_px', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_activity_slots_device_id_devices')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_activity_slots_user_id_users')),
    sa.PrimaryKeyConstraint('device_id', 'start', name=op.f('pk_activity_slots'))
    )
    with op.batch_alter_table('activity_slots', schema=None) as batch_op:
        batch_op.create_index('ix_activity_slots_user_start', ['user_id', 'start'], unique=False)

    op.create_table('batches',
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.String(length=36), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('received_at', server.models.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_batches_device_id_devices')),
    sa.PrimaryKeyConstraint('device_id', 'batch_id', name=op.f('pk_batches'))
    )
    op.create_table('device_presence',
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('since', server.models.UtcDateTime(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_device_presence_device_id_devices')),
    sa.PrimaryKeyConstraint('device_id', name=op.f('pk_device_presence'))
    )


def downgrade() -> None:
    op.drop_table('device_presence')
    op.drop_table('batches')
    with op.batch_alter_table('activity_slots', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_slots_user_start')

    op.drop_table('activity_slots')
    op.drop_table('user_presence')
    with op.batch_alter_table('enrollment_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrollment_codes_user_id'))

    op.drop_table('enrollment_codes')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_devices_user_id'))

    op.drop_table('devices')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_team_id'))

    op.drop_table('users')
    with op.batch_alter_table('deployment_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deployment_keys_team_id'))

    op.drop_table('deployment_keys')
    op.drop_table('teams')
