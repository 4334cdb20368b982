"""admin sessions revocable server-side, the first-run setup token, atomic sign-in lock counters

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 16:30:00

admin_sessions: the session cookie names a row here (by the SHA-256 of its token), so signing out or a
password change ends a copied cookie in every web process. setup_tokens: while no admin exists, /setup
needs the one-time token `qbsync serve` prints. sign_in_locks: failed sign-ins counted by one conditional
UPDATE per attempt (per user for the pages, per user and address for the Web Connector).
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('admin_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash')
    )
    op.create_index('ix_admin_sessions_user_id', 'admin_sessions', ['user_id'], unique=False)
    op.create_table('setup_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('token_hash')
    )
    op.create_table('sign_in_locks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('username', sa.String(length=255), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'username', 'remote_addr', name='uq_sign_in_locks_key')
    )


def downgrade() -> None:
    op.drop_table('sign_in_locks')
    op.drop_table('setup_tokens')
    op.drop_index('ix_admin_sessions_user_id', table_name='admin_sessions')
    op.drop_table('admin_sessions')
