"""Encryption at rest for storefront credentials and webhook secrets.

The key comes from ``QBSYNC_SECRET_KEY`` (a Fernet key). On the embedded default, where a newcomer sets
nothing, a key is generated once into the data folder with owner-only permissions so secrets are still
never stored in clear text.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

_fernet: Fernet | None = None


class SecretKeyError(RuntimeError):
    """The encryption key is missing, malformed, or does not match the stored secrets."""


def load_or_create_key(secret_key: str | None, data_dir: Path) -> str:
    """Return the configured key, or the one kept in ``data_dir/secret.key`` (created on first use)."""
    if secret_key:
        return secret_key
    path = data_dir / "secret.key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # only its owner may list what is inside
    key = Fernet.generate_key().decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def configure(key: str) -> None:
    """Install the process-wide key used by the encrypted column types."""
    global _fernet
    _decrypted.cache_clear()
    try:
        _fernet = Fernet(key.encode() if isinstance(key, str) else key)
    except (ValueError, TypeError) as exc:
        raise SecretKeyError(
            "QBSYNC_SECRET_KEY is not a valid key; make one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
        ) from exc


def _cipher() -> Fernet:
    if _fernet is None:
        raise SecretKeyError("encryption key not configured; call qbsync.storage.db.open_database first")
    return _fernet


def encrypt(plain: str) -> str:
    """Encrypt a string to a token safe to store in a text column."""
    return _cipher().encrypt(plain.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    """Decrypt a token made by :func:`encrypt`."""
    try:
        return _cipher().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise SecretKeyError(
            "a stored secret cannot be decrypted with the current QBSYNC_SECRET_KEY; "
            "set the key the data was written with"
        ) from exc


def decrypt_cached(token: str | None) -> str | None:
    """:func:`decrypt`, remembered per token (None stays None), for secrets read on every request.

    A token names one exact plain text under one key, so the cache can never give a stale secret: a
    rotated secret is a new token, and a new key clears the cache.
    """
    return None if token is None else _decrypted(token)


@functools.lru_cache(maxsize=4096)
def _decrypted(token: str) -> str:
    return decrypt(token)


def mask(secret: str | None, keep: int = 4) -> str:
    """Show only the last few characters of a secret, for pages and logs."""
    if not secret:
        return ""
    if len(secret) <= keep * 2:
        return "•" * len(secret)
    return "•" * 8 + secret[-keep:]


class EncryptedText(TypeDecorator[str]):
    """A text column stored encrypted; reads give back the plain string."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else encrypt(value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else decrypt(value)


class EncryptedJSON(TypeDecorator[dict]):
    """A JSON object stored encrypted as one token."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: dict | None, dialect: Any) -> str | None:
        return None if value is None else encrypt(json.dumps(value, sort_keys=True))

    def process_result_value(self, value: str | None, dialect: Any) -> dict | None:
        return None if value is None else json.loads(decrypt(value))
