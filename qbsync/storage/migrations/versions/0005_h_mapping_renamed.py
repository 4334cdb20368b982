"""id_mappings.store_name and rename_reason: names QuickBooks made qbsync change

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 19:40:00

When a customer's or product's QuickBooks name differs from the store's (cut to the field's length,
characters QuickBooks cannot keep changed, an id added because the name was taken), the link keeps the
store's name and why, so the bookkeeper can see it on the mappings page. Rows from before stay NULL.
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('id_mappings', sa.Column('store_name', sa.String(length=255), nullable=True))
    op.add_column('id_mappings', sa.Column('rename_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('id_mappings') as batch:
        batch.drop_column('rename_reason')
        batch.drop_column('store_name')
