"""connections.company_file and company_file_bound_at: the QuickBooks company file a connection belongs to

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 20:20:00

A connection's links (id_mappings) point to the records of one company file; sessions with another file open
are sent nothing (qbsync.queue.company_file). Existing connections are bound to the file their lists were
last read from (the "company_file" checkpoint, which this replaces); ones never contacted stay NULL and are
bound at their next session.
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('connections', sa.Column('company_file', sa.Text(), nullable=True))
    op.add_column('connections', sa.Column('company_file_bound_at', sa.DateTime(), nullable=True))
    op.execute(
        "UPDATE connections SET company_file = (SELECT c.value FROM checkpoints c "
        "WHERE c.connection_id = connections.id AND c.name = 'company_file'), "
        "company_file_bound_at = (SELECT c.updated_at FROM checkpoints c "
        "WHERE c.connection_id = connections.id AND c.name = 'company_file')")
    op.execute("DELETE FROM checkpoints WHERE name = 'company_file'")


def downgrade() -> None:
    op.execute(
        "INSERT INTO checkpoints (connection_id, name, value, updated_at) "
        "SELECT id, 'company_file', company_file, COALESCE(company_file_bound_at, CURRENT_TIMESTAMP) "
        "FROM connections WHERE company_file IS NOT NULL")
    # Plain ALTER TABLE DROP COLUMN (SQLite 3.35+): a batch copy of connections would drop the old table,
    # and with foreign keys on, SQLite would delete every row that references it (ON DELETE CASCADE).
    op.drop_column('connections', 'company_file_bound_at')
    op.drop_column('connections', 'company_file')
