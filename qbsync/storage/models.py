"""The tables. Plain SQLAlchemy 2 declarative models that run unchanged on SQLite and PostgreSQL.

Times are stored as naive UTC (``utcnow()``) so both databases compare them the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from qbsync.storage.encryption import EncryptedJSON, EncryptedText
from qbsync.storage.frozen_json import FrozenJSON


def utcnow() -> datetime:
    """Naive UTC now; the one clock every table uses."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


# SQLite has no BIGINT autoincrement; use INTEGER there, BIGINT on PostgreSQL.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# Characters kept of the HRESULT the Web Connector reports (a real one, "0x80040400", has 10).
HRESULT_LENGTH = 40


class Connection(Base):
    """One storefront linked to one QuickBooks company file through one Web Connector user."""

    __tablename__ = "connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    platform: Mapped[str] = mapped_column(String(20))  # "woocommerce" | "shopify"
    store_url: Mapped[str] = mapped_column(String(500))
    webhook_secret: Mapped[str] = mapped_column(EncryptedText)
    # Kept for a while after a rotation: Shopify can keep signing with the old secret for up to an hour.
    previous_webhook_secret: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    # Storefront REST credentials: {"consumer_key","consumer_secret"} or {"access_token","location_id"}.
    api_credentials: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON, default=dict)
    qbwc_username: Mapped[str] = mapped_column(String(100), unique=True)
    qbwc_password_hash: Mapped[str] = mapped_column(String(255))
    # Stable per connection so a re-downloaded .qwc replaces the application in the Web Connector.
    owner_id: Mapped[str] = mapped_column(String(38))
    file_id: Mapped[str] = mapped_column(String(38))
    # Sync settings (see qbsync.queue.settings for names and defaults); only overrides are stored.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The QuickBooks company file the connection's links and lists belong to: the path the Web Connector
    # reported at the first session (qbsync.queue.company_file). Sessions with another file open get nothing.
    company_file: Mapped[str | None] = mapped_column(Text, nullable=True)
    company_file_bound_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    sessions: Mapped[list[QbwcSession]] = relationship(back_populates="connection")


class QbwcSession(Base):
    """One Web Connector session: from authenticate to closeConnection (or until it goes stale)."""

    __tablename__ = "qbwc_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    ticket: Mapped[str] = mapped_column(String(64), unique=True)
    # "active" | "closed" | "stale" | "failed"
    state: Mapped[str] = mapped_column(String(20), default="active")
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    client_version: Mapped[str | None] = mapped_column(String(40), nullable=True)
    remote_addr: Mapped[str | None] = mapped_column(String(64), nullable=True)
    company_file: Mapped[str | None] = mapped_column(Text, nullable=True)
    country: Mapped[str | None] = mapped_column(String(4), nullable=True)
    # What QuickBooks reported (qbXMLMajorVers.qbXMLMinorVers) and the version we speak in this session.
    reported_version: Mapped[str | None] = mapped_column(String(10), nullable=True)
    qbxml_version: Mapped[str | None] = mapped_column(String(10), nullable=True)
    host_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    jobs_total: Mapped[int] = mapped_column(Integer, default=0)
    jobs_done: Mapped[int] = mapped_column(Integer, default=0)
    exchanges: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Text shown in the Web Connector's status column at the end ("OK", or the error).
    result: Mapped[str | None] = mapped_column(Text, nullable=True)

    connection: Mapped[Connection] = relationship(back_populates="sessions")

    __table_args__ = (Index("ix_qbwc_sessions_conn_state", "connection_id", "state"),)


class QueueJob(Base):
    """One unit of sync work for one connection: one storefront record to bring into QuickBooks, or a read.

    States: pending (ready once ``not_before`` has passed), in_flight (sent in a session, answer awaited),
    waiting (on a dependency), held (a person paused it), parked (needs a person), done, cancelled.
    """

    __tablename__ = "queue_jobs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    # What the job does, e.g. "customer", "item", "order", "payment", "refund", "inventory_adjustment",
    # "inventory_pull", "list_refresh", "stock_writeback", "qbxml" (a hand-written request).
    kind: Mapped[str] = mapped_column(String(40))
    # The storefront record it concerns (type + id), for mapping, coalescing and search.
    record_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    record_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # Human label: order number, customer name, SKU.
    label: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Read-only when loaded (storage.frozen_json): each distinct text is decoded once and shared by every
    # load, so a change is a new dict assigned (``job.payload = {**job.payload, ...}``), never made in place.
    payload: Mapped[dict[str, Any]] = mapped_column(FrozenJSON, default=dict)
    # The handler's notes on how far the job got (handlers.progress), apart from the payload so a change
    # of notes does not write the whole record again. NULL: none yet, or a job written before migration
    # 0009, whose notes are still the payload's "progress" (read there until the next change moves them).
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    priority: Mapped[int] = mapped_column(Integer, default=100)  # lower runs first
    # Jobs with the same key coalesce while not yet sent: the newest payload wins.
    coalesce_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failed_sessions: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Set when a request was sent but its answer never came: query before adding again.
    needs_lookup: Mapped[bool] = mapped_column(Boolean, default=False)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("qbwc_sessions.id", ondelete="SET NULL"),
                                                   nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    step: Mapped[str | None] = mapped_column(String(40), nullable=True)  # e.g. "lookup", "add", "mod"
    last_request_xml: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_response_xml: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Why the job is waiting or parked, in words a bookkeeper can act on.
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (
        # The jobs to send, in order; kind and not_before ride along so "which pending jobs are ready" is
        # answered from the index alone (the progress count on every answer, the ids of a fill round), not
        # by reading each pending job's row, whole orders, to see two columns.
        Index("ix_queue_jobs_pick", "connection_id", "state", "priority", "id", "kind", "not_before"),
        Index("ix_queue_jobs_record", "connection_id", "record_type", "record_id"),
        Index("ix_queue_jobs_session", "session_id"),
        # Intake looks jobs up by key and unfinished state on every change; SQLite cannot use the partial
        # unique index for that. With ``state`` in the index all three conditions are index equalities, so
        # SQLite's planner prefers it to ix_queue_jobs_pick (connection_id, state), which would scan every
        # queued job per look-up and slow a backfill as the queue grows.
        Index("ix_queue_jobs_coalesce_state", "connection_id", "coalesce_key", "state"),
        # Jobs of one kind in one state (refunds waiting for their order, on every intake transaction;
        # stock write-backs): without it SQLite reads them through ix_queue_jobs_pick, i.e. every job in
        # that state, however few are of the kind.
        Index("ix_queue_jobs_kind_state", "connection_id", "kind", "state"),
        # At most one unsent job per coalescing key.
        Index(
            "uq_queue_jobs_coalesce_open",
            "connection_id",
            "coalesce_key",
            unique=True,
            sqlite_where=text("state IN ('pending','waiting','held')"),
            postgresql_where=text("state IN ('pending','waiting','held')"),
        ),
    )

    @validates("label")
    def _fit_label(self, _key: str, value: str | None) -> str | None:
        # A label is for people: a shopper's 2,000-character name must not make the job unstorable.
        return value if value is None or len(value) <= 255 else value[:254] + "…"


class JobDependency(Base):
    """``job_id`` may run only once ``depends_on_id`` is done."""

    __tablename__ = "job_dependencies"

    job_id: Mapped[int] = mapped_column(ForeignKey("queue_jobs.id", ondelete="CASCADE"), primary_key=True)
    depends_on_id: Mapped[int] = mapped_column(
        ForeignKey("queue_jobs.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Exchange(Base):
    """One Web Connector round trip: the qbXML sent by sendRequestXML and what receiveResponseXML brought."""

    __tablename__ = "exchanges"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("qbwc_sessions.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    request_xml: Mapped[str] = mapped_column(Text)
    response_xml: Mapped[str | None] = mapped_column(Text, nullable=True)
    hresult: Mapped[str | None] = mapped_column(String(HRESULT_LENGTH), nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    job_count: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    received_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Milliseconds the service itself spent building the request and handling the answer.
    service_ms: Mapped[float | None] = mapped_column(nullable=True)


class JobAttempt(Base):
    """One job's part of one exchange: its requestID, what QuickBooks said. The log's searchable rows."""

    __tablename__ = "job_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchanges.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("queue_jobs.id", ondelete="SET NULL"), index=True,
                                               nullable=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    request_id: Mapped[str] = mapped_column(String(40))
    request_type: Mapped[str] = mapped_column(String(60))  # e.g. "InvoiceAddRq"
    label: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status_severity: Mapped[str | None] = mapped_column(String(10), nullable=True)
    status_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(30), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    __table_args__ = (Index("ix_job_attempts_conn_status", "connection_id", "status_code"),)


class IdMapping(Base):
    """A storefront record and the QuickBooks record it became (ListID or TxnID)."""

    __tablename__ = "id_mappings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    record_type: Mapped[str] = mapped_column(String(40))  # customer, product, order, payment, refund, ...
    storefront_id: Mapped[str] = mapped_column(String(100))
    qb_type: Mapped[str] = mapped_column(String(40))  # Customer, ItemInventory, Invoice, SalesReceipt, ...
    qb_id: Mapped[str] = mapped_column(String(40))
    edit_sequence: Mapped[str | None] = mapped_column(String(20), nullable=True)
    qb_name: Mapped[str | None] = mapped_column(String(255), nullable=True)  # FullName or RefNumber
    # Set by a person on the mappings page: never overwritten by auto-mapping.
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    # How qbsync came to know the record: 'created' (its own Add), 'found' (a look-up matched an existing
    # record), 'manual' (a person linked it); NULL for links made before this was recorded. Mod, Void and
    # Del go only to 'created' and 'manual' records (mappings.may_change).
    origin: Mapped[str | None] = mapped_column(String(10), nullable=True)
    # A QuickBooks name qbsync had to make differ from the store's (cut to the field's length, characters
    # QuickBooks cannot keep changed, a suffix added because the name was taken): the store's name and
    # why, for the mappings page's "renamed in QuickBooks". NULL when QuickBooks has the store's name.
    store_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    rename_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Fingerprint of what was last written, to skip no-op updates; quantity last seen for stock.
    synced_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    quantity: Mapped[str | None] = mapped_column(String(30), nullable=True)
    # An order's sale: what it holds of the store's stock as qbsync last wrote it (JSON, product key ->
    # quantity), so the stock its next change or void moves is known however long ago it was written
    # (inventory.sale_holds). NULL for other links, and for sales written before it was kept.
    stock_held: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("connection_id", "record_type", "storefront_id", name="uq_id_mappings_record"),
        Index("ix_id_mappings_qb", "connection_id", "qb_id"),
    )


class WebhookDelivery(Base):
    """A webhook exactly as it arrived, stored before it is answered.

    States: stored (waiting to be processed), processed, duplicate, stale (older than what we have),
    ignored (a topic qbsync does not sync, answered 200 so the store keeps the webhook),
    invalid (signed but not the JSON expected; kept for inspection), failed (processing raised).
    """

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(20))
    topic: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # Platform identity of the event; unique per connection so a redelivery is recognised.
    dedupe_key: Mapped[str] = mapped_column(String(255))
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(20), default="stored")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    resource_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    resource_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    resource_modified_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        UniqueConstraint("connection_id", "dedupe_key", name="uq_webhook_deliveries_dedupe"),
        Index("ix_webhook_deliveries_state", "state", "received_at"),
    )


class StorefrontRecord(Base):
    """The newest known state of one storefront record (normalized), whatever brought it."""

    __tablename__ = "storefront_records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    record_type: Mapped[str] = mapped_column(String(40))  # order, customer, product, refund, stock
    record_id: Mapped[str] = mapped_column(String(100))
    modified_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(20), default="webhook")  # webhook, sweep, push
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("connection_id", "record_type", "record_id", name="uq_storefront_records"),
    )


class PushRun(Base):
    """A backfill from the storefront ('Push'): its filters and its stored, resumable progress."""

    __tablename__ = "push_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    record_type: Mapped[str] = mapped_column(String(40))
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending running done failed
    total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    read: Mapped[int] = mapped_column(Integer, default=0)
    queued: Mapped[int] = mapped_column(Integer, default=0)
    already_synced: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    cursor: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # where to resume
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class QbListEntry(Base):
    """A value from a QuickBooks list (account, item, payment method, tax code...), pulled for pickers."""

    __tablename__ = "qb_list_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    list_type: Mapped[str] = mapped_column(String(40))  # Account, Item, PaymentMethod, SalesTaxCode, ...
    list_id: Mapped[str] = mapped_column(String(40))
    full_name: Mapped[str] = mapped_column(String(255))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    refreshed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # The name and e-mail as the engine matches them (Python's strip and lower, which a
    # database's lower() does not equal for every letter), set with full_name and data (migration 0011):
    # a round trip looks up only the customers its jobs name, by index, instead of reading the whole list.
    name_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    email_key: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        UniqueConstraint("connection_id", "list_type", "list_id", name="uq_qb_list_entries"),
        Index("ix_qb_list_entries_name_key", "connection_id", "list_type", "name_key"),
        Index("ix_qb_list_entries_email_key", "connection_id", "list_type", "email_key"),
    )

    @validates("full_name")
    def _key_name(self, _key: str, value: str) -> str:
        self.name_key = str(value).strip().lower()
        return value

    @validates("data")
    def _key_email(self, _key: str, value: dict[str, Any] | None) -> dict[str, Any] | None:
        self.email_key = list_key((value or {}).get("Email"))
        return value


def list_key(value: Any) -> str | None:
    """A list entry's e-mail as matched: stripped, lower case (None when it has none)."""
    return str(value or "").strip().lower() or None


class Checkpoint(Base):
    """A named resume point per connection, e.g. the last inventory pull or missed-webhook sweep."""

    __tablename__ = "checkpoints"

    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"),
                                               primary_key=True)
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class User(Base):
    """A person who signs in to the admin pages."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AuthFailure(Base):
    """A failed sign-in (admin page or Web Connector authenticate), for throttling and the log."""

    __tablename__ = "auth_failures"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # "login" | "qbwc"
    username: Mapped[str] = mapped_column(String(255))
    remote_addr: Mapped[str | None] = mapped_column(String(64), nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_auth_failures_lookup", "kind", "username", "at"),)


class AdminSession(Base):
    """A signed-in browser: the cookie holds a random token, this row its SHA-256 (revocable server-side).

    Signing out deletes the row; a password change or removing the person deletes all of theirs, so a
    copied cookie stops working at once, in every web process.
    """

    __tablename__ = "admin_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class SetupToken(Base):
    """The one-time secret that lets a person reach the first-run page while no admin exists.

    ``qbsync serve`` prints a link holding the token; only its SHA-256 is stored, and it is deleted when
    the first admin is created.
    """

    __tablename__ = "setup_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class SignInLock(Base):
    """Failed sign-ins counted per (kind, user name, address), updated atomically; and the lock they set.

    ``remote_addr`` is "" for a count over every address (the admin sign-in page). ``failures`` includes
    attempts whose password is still being checked, so parallel guesses cannot overtake the limit.
    """

    __tablename__ = "sign_in_locks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # "login" | "qbwc"
    username: Mapped[str] = mapped_column(String(255))
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (UniqueConstraint("kind", "username", "remote_addr", name="uq_sign_in_locks_key"),)
