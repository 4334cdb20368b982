"""id_mappings.origin: how qbsync came to know the QuickBooks record (created, found, manual)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 16:30:00

qbsync sends Mod, Void and Del only to a record it can prove is its own: one it created ('created') or
one a person linked ('manual'). A record linked because it was found by a look-up ('found') is only
referred to. Rows from before this column are left NULL: nothing proves who made them, so qbsync treats
them as found (a person confirms them on the mappings page, or changes them in QuickBooks by hand).
Rows a person linked are marked 'manual'.
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('id_mappings', sa.Column('origin', sa.String(length=10), nullable=True))
    op.execute("UPDATE id_mappings SET origin = 'manual' WHERE manual = TRUE")


def downgrade() -> None:
    with op.batch_alter_table('id_mappings') as batch:
        batch.drop_column('origin')
