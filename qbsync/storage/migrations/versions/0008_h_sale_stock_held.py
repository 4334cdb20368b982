"""id_mappings.stock_held: what an order's sale holds of the store's stock, kept with its link

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 11:10:00

A store count nets what a change or void of a sale moved QuickBooks' stock by, which needs the version
the sale held before. It was read from the notes of the order job that wrote it, and was lost with that
job. Rows from before stay NULL (read from the jobs' notes while they are kept).
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('id_mappings', sa.Column('stock_held', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('id_mappings') as batch:
        batch.drop_column('stock_held')
