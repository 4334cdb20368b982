"""A connection's named checkpoints (resume points and small per-item records): one way to save one."""

from __future__ import annotations

from sqlalchemy.orm import Session

from qbsync.storage.models import Checkpoint, utcnow


def save(session: Session, connection_id: int, name: str, value: str | None) -> Checkpoint:
    """Store the checkpoint ``name`` of the connection, its value replaced; its ``updated_at`` says when it
    was last saved, also when the value is unchanged (a list read again that did not change)."""
    row = session.get(Checkpoint, (connection_id, name))
    if row is None:
        row = Checkpoint(connection_id=connection_id, name=name, value=value)
        session.add(row)
    else:
        row.value = value
        row.updated_at = utcnow()
    return row
