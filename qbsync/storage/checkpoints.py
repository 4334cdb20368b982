"""A connection's named checkpoints (resume points and small per-item records): one way to save one, one
way to read one, one way to delete some.

A value read is kept for the database session, a name that is not stored too (the sync engine asks for
the same few per order of a round trip: one query each, and each query flushed the session first). That
is right because a checkpoint changes only through :func:`save` and :func:`delete`, which keep what is
kept current; the end of the transaction, or a rollback, forgets it all (another process may save one after).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, event
from sqlalchemy import delete as delete_rows
from sqlalchemy.orm import Session, SessionTransaction

from qbsync.storage.models import Checkpoint, utcnow

_READ = "qbsync.checkpoints"  # session.info: (connection id, name) -> value read or saved (None: not stored)


def _kept(session: Session) -> dict[tuple[int, str], str | None]:
    return session.info.setdefault(_READ, {})


def read(session: Session, connection_id: int, name: str) -> str | None:
    """The value of the checkpoint ``name`` of the connection; None when it is not stored (or empty)."""
    kept = _kept(session)
    key = (connection_id, name)
    if key not in kept:
        # No flush first: the only rows this session has not written are ones save() added, and those
        # are kept here already.
        with session.no_autoflush:
            row = session.get(Checkpoint, key)
        kept[key] = row.value if row is not None else None
    return kept[key]


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
    _kept(session)[(connection_id, name)] = value
    return row


def delete(session: Session, connection_id: int, *where: ColumnElement[bool]) -> None:
    """Delete the connection's checkpoints matching ``where`` (conditions on ``Checkpoint.name``)."""
    session.execute(delete_rows(Checkpoint).where(Checkpoint.connection_id == connection_id, *where))
    kept = _kept(session)
    for key in [key for key in kept if key[0] == connection_id]:
        del kept[key]  # read again when asked: which names matched is the database's to say


@event.listens_for(Session, "after_soft_rollback")  # any rollback, a savepoint's too: its saves are undone
def _forget(session: Session, *_: Any) -> None:
    session.info.pop(_READ, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_at_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the transaction itself, not a savepoint released inside it
        session.info.pop(_READ, None)
