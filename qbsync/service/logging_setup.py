"""Structured logs: one JSON object per line, a request id on every line, secrets masked everywhere.

Every record carries ``timestamp, level, logger, message, request_id, connection, path, status,
duration_ms`` (null when unknown). The request id comes from the ``X-Request-ID`` header (nginx sets it)
or is generated, and is echoed in the response, so one id ties the proxy log, the access line and every
line logged while handling the request together. Secrets (passwords, session tickets, webhook signatures,
Authorization and access-token headers, storefront API keys) are masked in messages and tracebacks
before anything is written, in time linear in their length; a message is cut to
``MAX_LOGGED_MESSAGE_CHARS`` (4,000) and a traceback to ``MAX_LOGGED_EXCEPTION_CHARS`` (16,000)
characters, keeping both ends.

Hooks: ``logging_setup.configure(...)`` in the CLI; ``logging_setup.install_request_id(app)`` at the end
of the app factory (it wraps the whole WSGI app, so /qbwc gets ids and access lines too); gunicorn takes
:func:`dict_config` as ``logconfig_dict`` (deploy/gunicorn.conf.py).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

REQUEST_ID_HEADER = "X-Request-ID"
ACCESS_LOGGER = "qbsync.access"
ENVIRON_KEY = "qbsync.request_id"
# Set (True) in the WSGI environ by an endpoint whose 5xx answer blames the client, e.g. a SOAP Client
# fault, which travels with HTTP 500 by protocol: its access line is a warning, not an error.
CLIENT_FAULT_KEY = "qbsync.client_fault"
MASK = "***"

_request_id: ContextVar[str | None] = ContextVar("qbsync_request_id", default=None)
_connection: ContextVar[str | None] = ContextVar("qbsync_connection", default=None)
_path: ContextVar[str | None] = ContextVar("qbsync_path", default=None)

# An incoming id is used only if it is short and plain (it ends up in every log line: no injection).
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")
_WEBHOOK_PATH = re.compile(r"^/webhooks/[^/]+/([^/]+)/?$")

# --- masking secrets --------------------------------------------------------------------------------

# Names whose values are secrets, e.g. password=…, "ticket": "…", Authorization: Bearer …
# The patterns below have no nested or adjacent ambiguous quantifiers: each runs in time linear in the
# text (the old single pattern, ``[\w-]*name[\w-]*`` and so on, took 25 s on 16,000 letters).
_SENSITIVE_NAME = re.compile(r"(?i)password|passwd|secret|token|ticket|signature|authorization|hmac"
                             r"|api[_-]?key|consumer[_-]?key|cookie")
_KEY_TAIL = re.compile(r"[\w-]*")  # the rest of the name a sensitive word sits in
_SEPARATOR_AND_VALUE = re.compile(
    r"(?i)(?P<sep>[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<value>(?:(?:basic|bearer|token|digest)\s+)?[^\s\"'&,;}<>)\]]+)"
)
# The value runs to the next "<" (or the end of a cut text: a secret cut in half is still masked).
_SECRET_ELEMENT = re.compile(r"(?i)<(?P<tag>(?:\w+:)?(?:strPassword|password|ticket|wcTicket))>[^<]*")
# Credentials recognisable by their shape wherever they appear (WooCommerce keys, Shopify tokens).
_SECRET_SHAPES = re.compile(r"\b(?:c[ks]_[0-9a-f]{40}|shp(?:at|ss|ca|pa|ua)_[0-9a-fA-F]{32})\b")

# Logged text is cut to these sizes (its start and its end are kept): a 5 MB SOAP parameter or a
# 20,000-character URL must not fill the log or keep the process busy masking it.
MAX_LOGGED_MESSAGE_CHARS = 4_000
MAX_LOGGED_EXCEPTION_CHARS = 16_000
# Only this many times the cap is ever masked (from each end), so masking a huge text stays cheap too.
_MASKED_WINDOW = 16


def redact(text: str) -> str:
    """``text`` with every secret value it contains replaced by ``***`` (in time linear in its length)."""
    if not text:
        return text
    text = _SECRET_ELEMENT.sub(lambda m: f"<{m['tag']}>{MASK}", text)
    text = _mask_pairs(text)
    return _SECRET_SHAPES.sub(MASK, text)


def _mask_pairs(text: str) -> str:
    """Mask the value after every name containing a sensitive word (``x-api-key: …``, ``"ticket": "…"``)."""
    out: list[str] = []
    done = 0  # text[:done] is settled (copied to out, or about to be)
    found = _SENSITIVE_NAME.search(text)
    while found:
        start = found.start()
        while start > done and _is_name_char(text[start - 1]):
            start -= 1  # never further back than the last name: each character is looked at once
        key_end = _KEY_TAIL.match(text, found.end()).end()
        pair = _SEPARATOR_AND_VALUE.match(text, key_end)
        if pair:
            out.append(text[done:pair.start("value")])
            out.append(MASK)
            done = pair.end()
        found = _SENSITIVE_NAME.search(text, pair.end() if pair else max(key_end, found.end()))
    out.append(text[done:])
    return "".join(out)


def _is_name_char(char: str) -> bool:
    return char.isalnum() or char in "_-"


def cap(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters, keeping its start and its end, saying how much was cut."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]} …[{len(text) - 2 * half} characters cut]… {text[-half:]}"


def loggable(text: str, limit: int) -> str:
    """``text`` masked and cut to ``limit`` characters, for a log line."""
    return cap(redact(cap(text, limit * _MASKED_WINDOW)), limit)


# --- what every line carries ------------------------------------------------------------------------


def current_request_id() -> str | None:
    """The id of the request being handled on this thread, if any."""
    return _request_id.get()


def bind_connection(name: str | None) -> None:
    """Tag the rest of this request's log lines with connection ``name`` (e.g. once a ticket is known)."""
    _connection.set(name)


class ContextFilter(logging.Filter):
    """Copies the request id, connection and path of the current request onto each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for attr, var in (("request_id", _request_id), ("connection", _connection), ("path", _path)):
            if getattr(record, attr, None) is None:
                setattr(record, attr, var.get())
        return True


def _timestamp(created: float) -> str:
    moment = datetime.fromtimestamp(created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line, secrets masked."""

    FIELDS = ("request_id", "connection", "path", "status", "duration_ms")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": loggable(record.getMessage(), MAX_LOGGED_MESSAGE_CHARS),
        }
        for name in self.FIELDS:
            entry[name] = getattr(record, name, None)
        method = getattr(record, "method", None)
        if method is not None:
            entry["method"] = method
        if record.exc_info:
            entry["exception"] = loggable(self.formatException(record.exc_info), MAX_LOGGED_EXCEPTION_CHARS)
        elif record.exc_text:
            entry["exception"] = loggable(record.exc_text, MAX_LOGGED_EXCEPTION_CHARS)
        if record.stack_info:
            entry["stack"] = loggable(self.formatStack(record.stack_info), MAX_LOGGED_EXCEPTION_CHARS)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal, with the request id and secrets masked."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = loggable(super().format(record), MAX_LOGGED_MESSAGE_CHARS + MAX_LOGGED_EXCEPTION_CHARS)
        request_id = getattr(record, "request_id", None)
        return f"{line} [{request_id}]" if request_id else line


def configure(level: int = logging.INFO, fmt: str | None = None, stream: IO[str] | None = None) -> None:
    """Send every log record (root logger) to ``stream`` (stderr) as JSON lines or text.

    ``fmt`` is "json" or "text"; default: ``$QBSYNC_LOG_FORMAT``, else text on a terminal and JSON
    otherwise (systemd, docker, gunicorn). Calling it again replaces the handler it installed.
    """
    stream = stream or sys.stderr
    fmt = (fmt or os.environ.get("QBSYNC_LOG_FORMAT") or ("text" if _is_tty(stream) else "json")).lower()
    if fmt not in ("json", "text"):
        raise ValueError(f"QBSYNC_LOG_FORMAT must be 'json' or 'text', not {fmt!r}")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    handler.set_name("qbsync")
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == "qbsync" or isinstance(old.formatter, JsonFormatter | TextFormatter):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs each request's full URL at INFO; WooCommerce keys travel in the query string.
    logging.getLogger("httpx").setLevel(max(level, logging.WARNING))
    # Alembic narrates every migration check at INFO; the CLI's own output says what matters.
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))


def _is_tty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def dict_config(level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for gunicorn (``logconfig_dict``): its own lines as JSON too."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json",
                                 "filters": ["context"], "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["console"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            # qbsync writes its own access line (with the request id); gunicorn's would be a duplicate.
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
            "httpx": {"level": "WARNING"},
        },
    }


# --- request ids and access lines -------------------------------------------------------------------

StartResponse = Callable[..., Any]


def _connection_of(path: str) -> str | None:
    match = _WEBHOOK_PATH.match(path)
    return match.group(1) if match else None


class RequestIdMiddleware:
    """WSGI middleware: take or make the request id, echo it, and log one access line per request."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self.app = app
        self.log = logging.getLogger(ACCESS_LOGGER)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        environ[ENVIRON_KEY] = request_id
        path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/"
        _request_id.set(request_id)
        _connection.set(_connection_of(path))
        _path.set(path)
        started = time.perf_counter()
        status: list[int] = []

        def start(status_line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[:] = [int(status_line.split(" ", 1)[0])]
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status_line, headers, exc_info)

        try:
            body = self.app(environ, start)
        except BaseException:
            self._access(environ, path, 500, started)
            _clear()
            raise
        return _Finished(body, lambda: self._access(environ, path, status[0] if status else 500, started))

    def _access(self, environ: dict[str, Any], path: str, status: int, started: float) -> None:
        duration_ms = round((time.perf_counter() - started) * 1000.0, 2)
        method = environ.get("REQUEST_METHOD", "")
        if status < 500:
            level = logging.INFO
        else:
            level = logging.WARNING if environ.get(CLIENT_FAULT_KEY) else logging.ERROR
        self.log.log(level, "%s %s %s %.1f ms", method, path, status, duration_ms,
                     extra={"status": status, "duration_ms": duration_ms, "method": method, "path": path})


class _Finished:
    """The response body, with a callback when the server has sent it (WSGI close())."""

    def __init__(self, body: Iterable[bytes], done: Callable[[], None]) -> None:
        self._body = body
        self._done = done

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            try:
                self._done()
            finally:
                _clear()


def _clear() -> None:
    _request_id.set(None)
    _connection.set(None)
    _path.set(None)


def install_request_id(app: Any) -> None:
    """Wrap ``app.wsgi_app`` (after every other middleware) with :class:`RequestIdMiddleware`. Idempotent."""
    if isinstance(app.wsgi_app, RequestIdMiddleware):
        return
    app.wsgi_app = RequestIdMiddleware(app.wsgi_app)
