"""queue_jobs: ix_queue_jobs_pick also holds kind and not_before, so ready jobs are counted from the index

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 14:05:00

Every receiveResponseXML counts the jobs still ready to send (the progress the Web Connector shows, and 100
when there are none): connection_id = ? AND state = 'pending' AND kind NOT IN (...) AND (not_before IS NULL
OR not_before <= ?). With (connection_id, state, priority, id) indexed, SQLite found the pending jobs in the
index and then read each one's row, whose order payload comes before not_before, for the last two tests:
10,000 pending jobs took ~9-11 ms a count. With kind and not_before in the index the count reads the index
alone (~1.2 ms); a fill round's window of ready ids (jobs.pending_ready with ``seen``) does too. The index is
the same one, wider: no second index to keep up on every change of a job's state.
"""

from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_NARROW = ['connection_id', 'state', 'priority', 'id']
_WIDE = [*_NARROW, 'kind', 'not_before']


def upgrade() -> None:
    # Plain index operations, as 0002: SQLite drops and creates indexes in place, without copying the table.
    op.drop_index('ix_queue_jobs_pick', table_name='queue_jobs')
    op.create_index('ix_queue_jobs_pick', 'queue_jobs', _WIDE, unique=False)


def downgrade() -> None:
    op.drop_index('ix_queue_jobs_pick', table_name='queue_jobs')
    op.create_index('ix_queue_jobs_pick', 'queue_jobs', _NARROW, unique=False)
