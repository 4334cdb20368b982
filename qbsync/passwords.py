"""Password hashing (argon2id) for Web Connector users and admin accounts."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

# A real hash of a random password, verified against when a user does not exist, so a wrong user name
# costs the same time as a wrong password and does not reveal which user names exist.
_DUMMY_HASH = _hasher.hash("qbsync-no-such-user")


def hash_password(password: str) -> str:
    """Hash a password for storage."""
    if not password:
        raise ValueError("the password must not be empty")
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Check ``password`` against ``stored_hash`` in constant time; ``None`` hashes never match."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's defaults."""
    return _hasher.check_needs_rehash(stored_hash)
