"""Configuration read from the environment.

Everything the service keeps between requests lives in the database (or Redis); this object only holds
where those are and a few process-wide limits, so any number of web processes and workers can share it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path


def default_data_dir() -> Path:
    """The per-user folder for the embedded SQLite database and the generated encryption key."""
    override = os.environ.get("QBSYNC_DATA_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "qbsync"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "qbsync"
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "qbsync"


def _int_env(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from exc


@dataclass(frozen=True)
class Config:
    """Process configuration. Build it with :meth:`from_env`."""

    database_url: str
    redis_url: str | None
    data_dir: Path
    secret_key: str | None = None
    # Webhook bodies above this size are refused with 413.
    max_webhook_bytes: int = 5 * 1024 * 1024
    # A Web Connector session with no call for this long may be taken over by a new authenticate.
    session_stale_seconds: int = 600
    # Hard expiry of a ticket after its last call.
    ticket_ttl_seconds: int = 3600
    # Name of the rq queue used for background work.
    rq_queue_name: str = "qbsync"
    # Base URL people reach the service at (used for webhook URLs and the .qwc file).
    public_url: str | None = None
    # How many reverse proxies (nginx, a load balancer) sit in front and set X-Forwarded-* headers.
    trusted_proxies: int = 0
    # Bearer token Prometheus sends for /metrics; unset: /metrics answers loopback addresses only.
    metrics_token: str | None = None

    @property
    def trusts_forwarded_host(self) -> bool:
        """Whether a request may say where the service is reached (through a trusted proxy's header)."""
        return self.trusted_proxies > 0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Config:
        """Read the QBSYNC_* environment variables, with the embedded defaults where they are unset."""
        env = dict(os.environ if env is None else env)
        data_dir = Path(env["QBSYNC_DATA_DIR"]) if env.get("QBSYNC_DATA_DIR") else default_data_dir()
        database_url = env.get("QBSYNC_DATABASE_URL") or f"sqlite:///{data_dir / 'qbsync.sqlite3'}"
        return cls(
            database_url=normalize_database_url(database_url),
            redis_url=env.get("QBSYNC_REDIS_URL") or None,
            data_dir=data_dir,
            secret_key=env.get("QBSYNC_SECRET_KEY") or None,
            max_webhook_bytes=_int_env(env, "QBSYNC_MAX_WEBHOOK_BYTES", 5 * 1024 * 1024),
            session_stale_seconds=_int_env(env, "QBSYNC_SESSION_STALE_SECONDS", 600),
            ticket_ttl_seconds=_int_env(env, "QBSYNC_TICKET_TTL_SECONDS", 3600),
            rq_queue_name=env.get("QBSYNC_RQ_QUEUE") or "qbsync",
            public_url=env.get("QBSYNC_PUBLIC_URL") or None,
            trusted_proxies=_int_env(env, "QBSYNC_TRUSTED_PROXIES", 0),
            metrics_token=env.get("QBSYNC_METRICS_TOKEN") or None,
        )


def local_base_url(scheme: str, port: str | int | None) -> str:
    """This machine's own address for the service, ``http://localhost:<port>``, built from the server's
    scheme and listening port and never from a request's Host header (which a client chooses freely).

    Used when QBSYNC_PUBLIC_URL is unset and no proxy is trusted: it is also the only plain-http address
    the Web Connector accepts.
    """
    port = str(port or "")
    default = {"http": "80", "https": "443"}.get(scheme)
    return f"{scheme}://localhost" + ("" if not port or port == default else f":{port}")


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the common way (postgres:// or postgresql://)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
