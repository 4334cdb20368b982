"""qb_list_entries.name_key and email_key: a round trip looks up only the customers its jobs name

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 17:00:00

The engine matched a store customer to the pulled customer list by name and e-mail (stripped, lower case)
through an index of the whole list, built from every customer row once per round trip: at 10,000 orders a
few thousand rows read and indexed for the handful of names and e-mails the round trip's jobs carry. The
two keys are kept as Python lowers them (a database's lower() differs for some letters: SQLite's lowers
only ASCII), written with full_name and data (``QbListEntry``'s validators), and indexed, so a round trip
reads the entries of its names and e-mails in one query. Existing rows get their keys here.
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

_entries = sa.table("qb_list_entries", sa.column("id", sa.BigInteger), sa.column("full_name", sa.String),
                    sa.column("data", sa.JSON), sa.column("name_key", sa.Text), sa.column("email_key", sa.Text))
_KEYED = ['connection_id', 'list_type']


def upgrade() -> None:
    op.add_column('qb_list_entries', sa.Column('name_key', sa.Text(), nullable=True))
    op.add_column('qb_list_entries', sa.Column('email_key', sa.Text(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.select(_entries.c.id, _entries.c.full_name, _entries.c.data)).all()
    keys = [{"entry_id": id_, "name": str(name or "").strip().lower(),
             "email": str((data or {}).get("Email") or "").strip().lower() or None} for id_, name, data in rows]
    for start in range(0, len(keys), 1000):
        bind.execute(_entries.update().where(_entries.c.id == sa.bindparam("entry_id"))
                     .values(name_key=sa.bindparam("name"), email_key=sa.bindparam("email")),
                     keys[start:start + 1000])
    op.create_index('ix_qb_list_entries_name_key', 'qb_list_entries', [*_KEYED, 'name_key'], unique=False)
    op.create_index('ix_qb_list_entries_email_key', 'qb_list_entries', [*_KEYED, 'email_key'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_qb_list_entries_email_key', table_name='qb_list_entries')
    op.drop_index('ix_qb_list_entries_name_key', table_name='qb_list_entries')
    # Plain ALTER TABLE DROP COLUMN (SQLite 3.35+), as 0006 and 0009.
    op.drop_column('qb_list_entries', 'email_key')
    op.drop_column('qb_list_entries', 'name_key')
