"""Sign-in locks: failed sign-ins counted atomically in the database, and the lock they set.

Used by the admin sign-in page (counted per user name) and the Web Connector's ``authenticate`` (counted
per user name *and* address, so guessing from elsewhere cannot lock a tenant's own Web Connector out).

An attempt is counted *before* its password is checked, by one conditional UPDATE that only succeeds while
the count is under the limit: however many guesses arrive at once, at most ``limit`` passwords are checked
per window. A right password sets the count back to zero; a wrong one that reaches the limit locks the key
until the window has passed (or an admin unlocks it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from qbsync.storage.models import SignInLock

WINDOW = timedelta(minutes=15)


def _key(kind: str, username: str, remote_addr: str | None) -> dict[str, str]:
    return {"kind": kind, "username": username[:255], "remote_addr": (remote_addr or "")[:64]}


def _where(key: dict[str, str]) -> list:
    return [SignInLock.kind == key["kind"], SignInLock.username == key["username"],
            SignInLock.remote_addr == key["remote_addr"]]


def reserve(session: Session, kind: str, username: str, remote_addr: str | None, *, limit: int,
            now: datetime) -> datetime | None:
    """Count one attempt before its password is checked; None when it may go on, else when the lock ends.

    ``remote_addr`` None counts over every address.
    """
    key = _key(kind, username, remote_addr)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(SignInLock).values(**key, failures=0)
                    .on_conflict_do_nothing(index_elements=["kind", "username", "remote_addr"]))
    # The count starts afresh once a lock has ended, or when the last attempt is older than the window.
    fresh = or_(SignInLock.locked_until <= now,
                and_(SignInLock.locked_until.is_(None),
                     or_(SignInLock.last_attempt_at.is_(None), SignInLock.last_attempt_at < now - WINDOW)))
    counted = session.execute(
        update(SignInLock)
        .where(*_where(key), or_(fresh, and_(SignInLock.locked_until.is_(None), SignInLock.failures < limit)))
        .values(failures=case((fresh, 1), else_=SignInLock.failures + 1),
                locked_until=case((fresh, None), else_=SignInLock.locked_until),
                last_attempt_at=now)
        .returning(SignInLock.id)
        .execution_options(synchronize_session=False)
    ).first()
    if counted is not None:
        return None
    row = session.execute(select(SignInLock.locked_until, SignInLock.last_attempt_at)
                          .where(*_where(key))).one()
    # No lock yet: the limit is taken by attempts whose passwords are being checked right now.
    return row.locked_until or (row.last_attempt_at or now) + WINDOW


def failed(session: Session, kind: str, username: str, remote_addr: str | None, *, limit: int,
           now: datetime) -> datetime | None:
    """The password of a reserved attempt was wrong: lock the key when this was the last allowed try.

    Returns when the new lock ends, or None when this failure did not lock.
    """
    until = now + WINDOW
    locked = session.execute(
        update(SignInLock)
        .where(*_where(_key(kind, username, remote_addr)), SignInLock.failures >= limit,
               SignInLock.locked_until.is_(None))
        .values(locked_until=until)
        .returning(SignInLock.id)
        .execution_options(synchronize_session=False)
    ).first()
    return until if locked is not None else None


def succeeded(session: Session, kind: str, username: str, remote_addr: str | None) -> None:
    """The right password: the count of that key starts again from zero."""
    session.execute(update(SignInLock).where(*_where(_key(kind, username, remote_addr)))
                    .values(failures=0, locked_until=None)
                    .execution_options(synchronize_session=False))


def unlock(session: Session, kind: str, username: str) -> int:
    """Lift every lock and count of ``username`` (from any address); returns how many keys were locked."""
    rows = session.execute(delete(SignInLock).where(SignInLock.kind == kind,
                                                    SignInLock.username == username[:255])
                           .returning(SignInLock.locked_until)).all()
    return sum(1 for row in rows if row.locked_until is not None)


def current_locks(session: Session, now: datetime, kind: str | None = None) -> list[SignInLock]:
    """The locks in force now, soonest to end first."""
    stmt = select(SignInLock).where(SignInLock.locked_until > now)
    if kind is not None:
        stmt = stmt.where(SignInLock.kind == kind)
    return list(session.scalars(stmt.order_by(SignInLock.locked_until, SignInLock.id)))


def locked_until(session: Session, kind: str, username: str, now: datetime) -> datetime | None:
    """When the latest lock of ``username`` (from any address) ends, if one is in force."""
    return session.scalar(select(SignInLock.locked_until)
                          .where(SignInLock.kind == kind, SignInLock.username == username[:255],
                                 SignInLock.locked_until > now)
                          .order_by(SignInLock.locked_until.desc()).limit(1))


def forget_stale(session: Session, now: datetime) -> int:
    """Drop counts whose last attempt is older than the window and that hold no lock; returns how many."""
    return session.execute(
        delete(SignInLock).where(SignInLock.last_attempt_at < now - WINDOW,
                                 or_(SignInLock.locked_until.is_(None), SignInLock.locked_until <= now))
    ).rowcount or 0
