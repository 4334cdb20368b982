"""The people who sign in to the pages: add and remove admins, change a password, unlock an account.

Shared by the Users page and `qbsync user …`; each function takes an open SQLAlchemy session (the caller
commits) and raises :class:`PeopleError` with a sentence a person can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qbsync import lockout
from qbsync.passwords import hash_password
from qbsync.service import security
from qbsync.storage.models import User, utcnow

MAX_USERNAME = 100  # the users.username column


class PeopleError(ValueError):
    """A change to the admin accounts that cannot be made, with the reason."""


@dataclass(frozen=True)
class Person:
    """One admin account as the Users page and `qbsync user list` show it."""

    id: int
    username: str
    last_login_at: datetime | None
    locked_until: datetime | None


def check_new_password(password: str, confirm: str | None = None) -> None:
    """Refuse a password that is too short (or not typed the same twice)."""
    error = security.validate_admin_password(password, password if confirm is None else confirm)
    if error:
        raise PeopleError(error)


def add_admin(session: Session, username: str, password: str, confirm: str | None = None) -> User:
    """Create an admin account."""
    username = username.strip()
    if not username:
        raise PeopleError("Choose a user name.")
    if len(username) > MAX_USERNAME:
        raise PeopleError(f"The user name must be at most {MAX_USERNAME} characters.")
    if any(ch < " " or ch == "\x7f" for ch in username):
        raise PeopleError("The user name must not contain control characters.")
    check_new_password(password, confirm)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise PeopleError(f"There is already a user named {username!r}.")
    user = User(username=username, password_hash=hash_password(password), is_admin=True)
    session.add(user)
    session.flush()
    return user


def find(session: Session, username: str) -> User:
    """The account named ``username``, or an error listing who exists."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        names = ", ".join(session.scalars(select(User.username).order_by(User.username))) or "none yet"
        raise PeopleError(f"There is no user named {username!r} (users: {names}).")
    return user


def change_password(session: Session, user: User, password: str, confirm: str | None = None) -> int:
    """Set a new password; every session of that person ends (returns how many), and any lock is lifted."""
    check_new_password(password, confirm)
    user.password_hash = hash_password(password)
    lockout.unlock(session, "login", user.username)
    return security.end_sessions(session, user.id)


def remove_admin(session: Session, user: User) -> None:
    """Remove an account (its sessions end with it); the last admin cannot be removed."""
    admins = session.scalar(select(func.count()).select_from(User).where(User.is_admin.is_(True)))
    if user.is_admin and admins <= 1:
        raise PeopleError("This is the only admin; add another admin before removing this one.")
    security.end_sessions(session, user.id)
    lockout.unlock(session, "login", user.username)
    session.delete(user)
    session.flush()


def unlock(session: Session, username: str) -> bool:
    """Lift the sign-in lock of ``username``; whether one was in force."""
    return lockout.unlock(session, "login", username) > 0


def everyone(session: Session, now: datetime | None = None) -> list[Person]:
    """Every account, by name, with when it last signed in and whether it is locked out."""
    now = now or utcnow()
    locks = {lock.username: lock.locked_until for lock in lockout.current_locks(session, now, "login")}
    return [Person(u.id, u.username, u.last_login_at, locks.get(u.username))
            for u in session.scalars(select(User).order_by(User.username))]
