"""queue_jobs.progress: a job's progress notes in their own column, out of its payload

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 11:00:00

A handler's notes change on most answers; kept in the payload, each change wrote the whole order again.
Existing jobs keep their notes in the payload (handlers.progress reads them there while the column is NULL)
and move them on their next change, so the upgrade rewrites no rows. Downgrade puts the notes back into the
payload, where the old code reads them.
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_jobs = sa.table("queue_jobs", sa.column("id", sa.BigInteger), sa.column("payload", sa.JSON),
                 sa.column("progress", sa.JSON))


def upgrade() -> None:
    op.add_column('queue_jobs', sa.Column('progress', sa.JSON(), nullable=True))


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_jobs.c.id, _jobs.c.payload, _jobs.c.progress)
                        .where(_jobs.c.progress.is_not(None))).all()
    for id_, payload, notes in rows:
        bind.execute(_jobs.update().where(_jobs.c.id == id_)
                     .values(payload={**(payload or {}), "progress": notes}))
    # Plain ALTER TABLE DROP COLUMN (SQLite 3.35+), as 0006: a batch copy would drop the old table.
    op.drop_column('queue_jobs', 'progress')
