"""queue_jobs: indexes for intake's look-ups by coalescing key and state, and by kind and state

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 13:30:00

Intake asks for the unfinished job of a coalescing key on every change
(``connection_id = ? AND coalesce_key = ? AND state IN (...)``), and once per transaction for the refunds
waiting for an order (``connection_id = ? AND kind = 'refund' AND state = 'waiting'``). With only
(connection_id, coalesce_key) indexed, SQLite's planner answered both through ix_queue_jobs_pick
(connection_id, state), reading every queued job each time, so a 50,000-order backfill slowed from ~117 to
~20 records/s as the queue grew. With the state (and the kind) in the index every condition is an index
equality. The coalescing index replaces ix_queue_jobs_coalesce, whose columns it begins with.
"""

from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain index operations, not batch mode: SQLite creates and drops indexes in place, so the queue
    # table is not copied. The new coalescing index comes first so look-ups are never without one.
    op.create_index('ix_queue_jobs_coalesce_state', 'queue_jobs', ['connection_id', 'coalesce_key', 'state'],
                    unique=False)
    op.drop_index('ix_queue_jobs_coalesce', table_name='queue_jobs')
    op.create_index('ix_queue_jobs_kind_state', 'queue_jobs', ['connection_id', 'kind', 'state'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_queue_jobs_kind_state', table_name='queue_jobs')
    op.create_index('ix_queue_jobs_coalesce', 'queue_jobs', ['connection_id', 'coalesce_key'], unique=False)
    op.drop_index('ix_queue_jobs_coalesce_state', table_name='queue_jobs')
