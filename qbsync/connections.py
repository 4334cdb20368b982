"""Connections: one storefront, one QuickBooks company file, one Web Connector user.

The service layer below the CLI and the admin pages; every function takes an open SQLAlchemy session.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qbsync.passwords import hash_password
from qbsync.queue.company_file import FileLinks
from qbsync.storage.models import Connection
from qbsync.storefronts.clients import is_loopback
from qbsync.webhooks.envelope import shopify_shop_of

PLATFORMS = ("woocommerce", "shopify")
RESERVED_NAMES = frozenset({"new"})  # /connections/new is the page that adds one
# The column sizes (models.py): longer values would fail in the database (PostgreSQL) instead of here.
MAX_STORE_URL = 500
MAX_QBWC_USERNAME = 100
# A company file path longer than this is a typing error, not a file.
MAX_COMPANY_FILE = 1000
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class ConnectionSetupError(ValueError):
    """A connection could not be created or changed; the message says why and how to fix it."""


@dataclass(frozen=True)
class NewConnection:
    """What a person provides to link a store."""

    name: str
    platform: str
    store_url: str
    webhook_secret: str
    qbwc_username: str
    qbwc_password: str
    api_credentials: dict[str, Any] | None = None


def validate_new(spec: NewConnection) -> None:
    """Raise :class:`ConnectionSetupError` with a fix for each problem in ``spec``."""
    if not _NAME_RE.match(spec.name):
        raise ConnectionSetupError(
            f"connection name {spec.name!r} must be 1-100 letters, digits, '.', '_' or '-' "
            "(it appears in webhook URLs)"
        )
    if spec.name.lower() in RESERVED_NAMES:
        raise ConnectionSetupError(f"{spec.name!r} is reserved for the admin pages; choose another name")
    if spec.platform not in PLATFORMS:
        raise ConnectionSetupError(f"platform must be one of {', '.join(PLATFORMS)}, not {spec.platform!r}")
    _check_store_url(spec.platform, spec.store_url)
    if not spec.webhook_secret:
        raise ConnectionSetupError(
            "a webhook secret is required: copy it from the storefront's webhook settings"
        )
    if not spec.qbwc_username.strip():
        raise ConnectionSetupError("a Web Connector user name is required")
    if len(spec.qbwc_username) > MAX_QBWC_USERNAME:
        raise ConnectionSetupError(
            f"the Web Connector user name must be at most {MAX_QBWC_USERNAME} characters"
        )
    if len(spec.qbwc_password) < 8:
        raise ConnectionSetupError("the Web Connector password must be at least 8 characters")


def _check_store_url(platform: str, store_url: str) -> None:
    if not re.match(r"^https?://[^\s/]+", store_url):
        raise ConnectionSetupError(f"store URL {store_url!r} must start with https:// (or http://)")
    if len(store_url) > MAX_STORE_URL:
        raise ConnectionSetupError(f"the store URL must be at most {MAX_STORE_URL} characters")
    problem = shopify_address_problem(store_url) if platform == "shopify" else None
    if problem:
        raise ConnectionSetupError(problem)


def shopify_address_problem(store_url: str) -> str | None:
    """Why ``store_url`` cannot be a Shopify connection's address, or None.

    Shopify's Admin API answers at ``https://<shop>.myshopify.com/admin/api/`` and every webhook names the
    shop by that address (``X-Shopify-Shop-Domain``), never by the shop's own domain: a connection entered
    as ``https://www.example-shop.com`` could neither read the shop nor tell its deliveries from another
    shop's. An address on this machine (a test double, the simulator's storefront) is let through.
    """
    if shopify_shop_of(store_url) or is_loopback(store_url):
        return None
    return (f"{store_url!r} is the shop's own domain; Shopify's Admin API and its webhooks know the shop "
            "only by its myshopify.com address: enter https://<shop>.myshopify.com (Shopify admin > "
            "Settings > Domains lists it)")


def set_store_url(session: Session, conn: Connection, store_url: str) -> None:
    """Give ``conn`` its store's correct address (the same store: orders are keyed by the store's ids, so
    another store's orders would be taken for this one's).

    Live Web Connector sessions are left alone: the address is read for each storefront call and each
    delivery.
    """
    store_url = store_url.strip().rstrip("/")
    _check_store_url(conn.platform, store_url)
    conn.store_url = store_url


def new_guid() -> str:
    """A GUID in the braces form the Web Connector expects for OwnerID and FileID."""
    return "{" + str(uuid.uuid4()).upper() + "}"


def add_connection(session: Session, spec: NewConnection) -> Connection:
    """Create a connection; names and Web Connector users must be unique."""
    validate_new(spec)
    if session.scalar(select(Connection.id).where(Connection.name == spec.name)) is not None:
        raise ConnectionSetupError(f"a connection named {spec.name!r} already exists")
    taken = session.scalar(select(Connection.id).where(Connection.qbwc_username == spec.qbwc_username))
    if taken is not None:
        raise ConnectionSetupError(
            f"the Web Connector user {spec.qbwc_username!r} is already used by another connection; "
            "each connection needs its own user"
        )
    conn = Connection(
        name=spec.name,
        platform=spec.platform,
        store_url=spec.store_url.rstrip("/"),
        webhook_secret=spec.webhook_secret,
        api_credentials=dict(spec.api_credentials or {}),
        qbwc_username=spec.qbwc_username,
        qbwc_password_hash=hash_password(spec.qbwc_password),
        owner_id=new_guid(),
        file_id=new_guid(),
        settings={},
    )
    session.add(conn)
    session.flush()
    return conn


def get_connection(session: Session, name: str) -> Connection:
    """The connection called ``name``, or a clear error listing the ones that exist."""
    conn = session.scalar(select(Connection).where(Connection.name == name))
    if conn is None:
        names = session.scalars(select(Connection.name).order_by(Connection.name)).all()
        known = ", ".join(names) if names else "none yet — add one with `qbsync connection add`"
        raise ConnectionSetupError(f"no connection named {name!r} (connections: {known})")
    return conn


def list_connections(session: Session) -> list[Connection]:
    """All connections, by name."""
    return list(session.scalars(select(Connection).order_by(Connection.name)))


def set_qbwc_password(session: Session, conn: Connection, password: str) -> None:
    """Replace the Web Connector password (the Web Connector must be given the new one too)."""
    if len(password) < 8:
        raise ConnectionSetupError("the Web Connector password must be at least 8 characters")
    from qbsync.qwc.sessions import end_sessions_of  # imported here: the Web Connector layer sits above

    conn.qbwc_password_hash = hash_password(password)
    # A ticket handed out under the old password must stop working with it.
    end_sessions_of(session, conn.id, "qbsync: the Web Connector password was changed; enter the new "
                                      "password in the Web Connector and run the update again")


def rotate_webhook_secret(session: Session, conn: Connection, new_secret: str) -> None:
    """Set a new webhook secret, keeping the old one accepted during the platform's changeover."""
    if not new_secret:
        raise ConnectionSetupError("the new webhook secret must not be empty")
    conn.previous_webhook_secret = conn.webhook_secret
    conn.webhook_secret = new_secret


def set_api_credentials(session: Session, conn: Connection, credentials: dict[str, Any]) -> None:
    """Store storefront API credentials (encrypted at rest)."""
    conn.api_credentials = {k: v for k, v in credentials.items() if v not in (None, "")}


def rebind_same_company_file(session: Session, conn: Connection, path: str | None) -> None:
    """Bind ``conn`` to ``path``, which a person says is its own company file moved or reached by another
    path; every link is kept. See :func:`qbsync.queue.company_file.same_file_elsewhere`."""
    from qbsync.queue.company_file import same_file_elsewhere
    from qbsync.qwc.sessions import end_sessions_of

    path = (path or "").strip()
    if not path:
        raise ConnectionSetupError("no update has had another company file open; give the path the Web "
                                   "Connector reports (--to)")
    if len(path) > MAX_COMPANY_FILE:
        raise ConnectionSetupError(f"a company file path is at most {MAX_COMPANY_FILE} characters")
    end_sessions_of(session, conn.id, "qbsync: the connection's company file path changed; the next update "
                                      "starts a new session")
    same_file_elsewhere(conn, path)


def switch_company_file(session: Session, conn: Connection, to_file: str | None) -> FileLinks:
    """Move ``conn`` to another QuickBooks company file, forgetting the old file's links and lists.

    Live Web Connector sessions end first (their in-flight work returns to the queue). Returns what was
    forgotten; see :func:`qbsync.queue.company_file.switch`.
    """
    from qbsync.queue.company_file import switch
    from qbsync.qwc.sessions import end_sessions_of  # imported here: the Web Connector layer sits above

    if to_file is not None and len(to_file.strip()) > MAX_COMPANY_FILE:
        raise ConnectionSetupError(f"a company file path is at most {MAX_COMPANY_FILE} characters")
    end_sessions_of(session, conn.id, "qbsync: the connection was switched to another company file; the "
                                      "next update starts a new session")
    return switch(session, conn, to_file)
