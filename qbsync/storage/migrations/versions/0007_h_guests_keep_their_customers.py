"""Existing connections keep one QuickBooks customer per guest checkout

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 02:10:00

The ``proxy_customer`` setting's default changed from "" (a customer per buyer) to "Web Guests" (guest
checkouts share one customer). Only overrides are stored, so a connection made before would change how its
next guest order is booked; this stores the old value on every existing connection that had not chosen,
so a default never changes books already being kept. Downgrade keeps the stored "" (the old default).
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_connections = sa.table("connections", sa.column("id", sa.Integer), sa.column("settings", sa.JSON))


def upgrade() -> None:
    bind = op.get_bind()
    for id_, settings in bind.execute(sa.select(_connections.c.id, _connections.c.settings)).all():
        settings = dict(settings or {})
        if "proxy_customer" in settings:
            continue
        settings["proxy_customer"] = ""
        bind.execute(_connections.update().where(_connections.c.id == id_).values(settings=settings))


def downgrade() -> None:
    # Nothing to undo: "" is what these connections read before, as a default or as a stored value.
    pass
