"""What the WooCommerce and Shopify REST clients share: errors a merchant can act on, the retry policy,
one store's HTTP conversation (retries, timeouts, JSON with exact money) and resumable paging.

Every request qbsync sends to a store is safe to repeat (reads, and stock writes that set an absolute
quantity), so timeouts, dropped connections, 5xx and 429 answers are all retried with exponential backoff
and jitter, honouring ``Retry-After``. Credentials never appear in messages or logs.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar

import httpx

log = logging.getLogger(__name__)

USER_AGENT = "qbsync (QuickBooks Desktop sync)"

# 501 Not Implemented and 505 HTTP Version Not Supported will not change on a retry.
_NOT_RETRIED_5XX = frozenset({501, 505})


class StorefrontError(Exception):
    """A storefront request failed; ``str()`` is a message the merchant can act on.

    ``status`` is the HTTP status (None when no answer came), ``code`` the storefront's own error code
    when it sent one (WooCommerce ``code``, e.g. ``rest_invalid_param``).
    """

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class StorefrontSetupError(StorefrontError, ValueError):
    """The connection settings themselves are unusable (bad address, plain http, empty credentials)."""


class StorefrontAuthError(StorefrontError):
    """The store refused the credentials (HTTP 401/403); the message says how to make new ones."""


class StorefrontNotFound(StorefrontError):
    """The store answered 404 for one record (deleted, or never existed)."""


class StorefrontUnavailable(StorefrontError):
    """The store did not answer usefully (timeouts, connection errors, 5xx) even after retries."""


class StorefrontRateLimited(StorefrontUnavailable):
    """The store kept answering 429 (or asked for a longer wait than we are willing to block for).

    ``retry_after`` is the wait in seconds the store asked for, when it said.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = 429,
        code: str | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failed request is tried again.

    ``attempts`` counts the first try. The n-th retry waits ``base_delay * 2**(n-1)`` seconds (at most
    ``max_delay``) varied by ±``jitter`` (a fraction), or what ``Retry-After`` asks when that is longer.
    A ``Retry-After`` above ``max_retry_after`` is not waited for: the request fails at once with
    :class:`StorefrontRateLimited` so a background job can be rescheduled instead of blocking a worker.
    """

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.25
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if min(self.base_delay, self.max_delay, self.max_retry_after) < 0 or not 0 <= self.jitter <= 1:
            raise ValueError("RetryPolicy delays must be >= 0 and jitter between 0 and 1")

    def backoff(self, retry_number: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number ``retry_number`` (1-based) when the store gave no hint."""
        delay = min(self.max_delay, self.base_delay * 2 ** (retry_number - 1))
        return max(0.0, delay * (1 + self.jitter * (2 * rand() - 1)))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds (Shopify sends ``2.0``) or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def store_address(store_url: str, *, allow_http: bool, platform: str, http_refused: str) -> str:
    """The store's base address (scheme, host, optional path; no trailing slash), checked.

    A bare host gets ``https://``. Plain ``http://`` raises :class:`StorefrontSetupError` with
    ``http_refused`` unless ``allow_http`` (the loopback test double).
    """
    text = (store_url or "").strip()
    if not text:
        raise StorefrontSetupError(f"Enter the {platform} store address, e.g. https://shop.example.com")
    if "://" not in text:
        text = "https://" + text
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise StorefrontSetupError(
            f"{store_url!r} is not a usable {platform} store address ({exc})."
        ) from None
    if url.scheme not in ("http", "https") or not url.host:
        raise StorefrontSetupError(
            f"{store_url!r} is not a usable {platform} store address; enter it like https://shop.example.com"
        )
    if url.username or url.password:
        raise StorefrontSetupError(
            f"Do not put a user name or password in the {platform} store address; enter the address alone."
        )
    if url.scheme == "http" and not allow_http:
        raise StorefrontSetupError(http_refused.format(url=safe_url(url)))
    return str(url.copy_with(query=None, fragment=None)).rstrip("/")


def as_utc(value: datetime | str, what: str = "date") -> datetime:
    """An aware UTC datetime from a datetime (naive means UTC, as everywhere in qbsync) or ISO 8601 text."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"{what} {value!r} is not an ISO 8601 date/time like 2024-05-01T00:00:00"
            ) from None
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime or ISO 8601 text, not {type(value).__name__}")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def safe_url(url: httpx.URL | str) -> str:
    """The address without query string or user info, fit for messages and logs."""
    u = httpx.URL(str(url))
    return str(u.copy_with(query=None, fragment=None, username=None, password=None))


def parse_json(content: bytes) -> Any:
    """JSON with every non-integer number as ``Decimal`` (money must stay exact)."""
    return json.loads(content, parse_float=Decimal)


def storefront_message(response: httpx.Response) -> tuple[str | None, str]:
    """The storefront's own (code, message) from an error answer, for both platforms' error shapes."""
    try:
        body = parse_json(response.content)
    except ValueError:
        text = response.text.strip().replace("\n", " ")
        return None, (text[:200] or response.reason_phrase)
    if isinstance(body, dict):
        if "message" in body:  # WooCommerce / WordPress: {"code", "message", "data": {"status"}}
            code = body.get("code")
            return (str(code) if code is not None else None), str(body["message"])
        errors = body.get("errors", body.get("error"))
        if errors is not None:  # Shopify: {"errors": "..."} | {"errors": {"field": [...]}} | [...]
            return None, _flatten_errors(errors)
    return None, json.dumps(body, default=str)[:200]


def _flatten_errors(errors: Any) -> str:
    if isinstance(errors, dict):
        return "; ".join(f"{key}: {_flatten_errors(value)}" for key, value in errors.items())
    if isinstance(errors, list):
        return ", ".join(_flatten_errors(item) for item in errors)
    return str(errors)


AuthHelp = Callable[[int, str], str]
"""Builds the auth-failure message from (HTTP status, the storefront's own message)."""


class StoreApi:
    """One store's REST API over HTTP: absolute URLs under ``base_url``, auth, retries, error mapping.

    Pass ``client`` to reuse an ``httpx.Client`` you own (it is then not closed by :meth:`close`), or
    ``transport`` to plug an ``httpx`` transport (tests). ``sleep`` is called for every wait (backoff,
    ``Retry-After``). ``before_request``/``after_response`` let a platform pace itself (Shopify's bucket).
    """

    def __init__(
        self,
        base_url: str,
        *,
        platform: str,
        auth_help: AuthHelp,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        before_request: Callable[[], None] | None = None,
        after_response: Callable[[httpx.Response], None] | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be a positive number of seconds")
        self.base_url = httpx.URL(base_url if base_url.endswith("/") else base_url + "/")
        self.platform = platform
        self.retry = retry or RetryPolicy()
        self._auth_help = auth_help
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        self._auth = auth
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        self._owns_client = client is None
        # Redirects are not followed: a redirected POST turns into a GET, and credentials must not
        # follow a store to another host. The error tells the merchant which address to enter instead.
        self._client = client or httpx.Client(transport=transport, follow_redirects=False)
        self._sleep = sleep
        self._before_request = before_request
        self._after_response = after_response

    def close(self) -> None:
        """Close the HTTP connections (only when this object created the ``httpx.Client``)."""
        if self._owns_client:
            self._client.close()

    def url(self, path: str) -> httpx.URL:
        """Absolute URL of ``path`` (relative to the API root, or absolute)."""
        return self.base_url.join(path)

    def get_json(
        self, path: str, params: Mapping[str, Any] | None = None, *, attempts: int | None = None
    ) -> tuple[Any, httpx.Response]:
        """GET ``path`` and return (parsed JSON, response)."""
        response = self.request("GET", path, params=params, attempts=attempts)
        return self.parse(response), response

    def post_json(self, path: str, body: Any) -> tuple[Any, httpx.Response]:
        """POST a JSON body to ``path`` and return (parsed JSON, response)."""
        response = self.request("POST", path, json_body=body)
        return self.parse(response), response

    def parse(self, response: httpx.Response) -> Any:
        """The JSON body, or a clear error when the store sent something else (a maintenance page...)."""
        try:
            return parse_json(response.content)
        except ValueError:
            raise StorefrontError(
                f"{self.platform} at {safe_url(response.request.url)} answered HTTP {response.status_code} "
                "with something that is not JSON (a maintenance page, a security plugin or a wrong store "
                "address?). Check that the address opens the store and that its REST API is enabled.",
                status=response.status_code,
            ) from None

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        attempts: int | None = None,
    ) -> httpx.Response:
        """Send one request, retrying what is worth retrying; return a 2xx response or raise."""
        url = self.url(path)
        where = safe_url(url)
        max_attempts = attempts or self.retry.attempts
        content = None
        headers = dict(self._headers)
        if json_body is not None:
            content = json.dumps(json_body, default=_json_default).encode()
            headers["Content-Type"] = "application/json"
        last_problem = ""
        for attempt in range(1, max_attempts + 1):
            if self._before_request:
                self._before_request()
            wait: float | None = None
            try:
                response = self._client.request(
                    method,
                    url,
                    params=_query(params),
                    content=content,
                    headers=headers,
                    auth=self._auth or httpx.USE_CLIENT_DEFAULT,
                    timeout=self._timeout,
                )
            except httpx.TimeoutException:
                last_problem = f"no answer within {self._timeout.read:g} s"
            except httpx.TransportError as exc:
                last_problem = f"connection failed ({exc or type(exc).__name__})"
            else:
                if self._after_response:
                    self._after_response(response)
                status = response.status_code
                if 200 <= status < 300:
                    return response
                if status == 429 or (status >= 500 and status not in _NOT_RETRIED_5XX):
                    wait = parse_retry_after(response.headers.get("Retry-After"))
                    _code, message = storefront_message(response)
                    last_problem = f"HTTP {status} {response.reason_phrase}".rstrip()
                    if wait is not None and wait > self.retry.max_retry_after:
                        raise StorefrontRateLimited(
                            f"{self.platform} at {where} asked us to wait {wait:.0f} s before trying again "
                            f"({last_problem}: {message}). qbsync will try again later.",
                            retry_after=wait,
                            status=status,
                        )
                    if attempt == max_attempts:
                        raise self._gave_up(where, status, last_problem, max_attempts, wait)
                else:
                    raise self._refused(response, where)
            if attempt == max_attempts:
                raise self._gave_up(where, None, last_problem, max_attempts, None)
            delay = self.retry.backoff(attempt)
            if wait is not None:
                delay = max(delay, wait)
            log.warning(
                "%s %s: %s; retry %d of %d in %.2f s",
                method,
                where,
                last_problem,
                attempt,
                max_attempts - 1,
                delay,
            )
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _gave_up(
        self, where: str, status: int | None, problem: str, attempts: int, retry_after: float | None
    ) -> StorefrontError:
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        if status == 429:
            return StorefrontRateLimited(
                f"{self.platform} at {where} is still limiting our request rate after {tries} "
                f"({problem}). qbsync will try again later; if this keeps happening, lower the sync "
                "frequency or ask the host to allow more API requests.",
                retry_after=retry_after,
            )
        return StorefrontUnavailable(
            f"{self.platform} at {where} did not answer usefully after {tries} (last: {problem}). "
            "The store may be down, overloaded or unreachable from this server; qbsync will try again "
            "later. Check that the store address opens in a browser.",
            status=status,
        )

    def _refused(self, response: httpx.Response, where: str) -> StorefrontError:
        status = response.status_code
        if 300 <= status < 400:
            target = response.headers.get("Location", "another address")
            return StorefrontSetupError(
                f"{where} redirects to {safe_url(response.request.url.join(target))}; enter the store's "
                "final https:// address (the one the browser shows) on the connection page.",
                status=status,
            )
        code, message = storefront_message(response)
        if status in (401, 403):
            return StorefrontAuthError(self._auth_help(status, message), status=status, code=code)
        if status == 404:
            return StorefrontNotFound(
                f"{self.platform} at {where} answered 404 Not Found: {message}", status=status, code=code
            )
        return StorefrontError(
            f"{self.platform} at {where} refused the request (HTTP {status}): {message}",
            status=status,
            code=code,
        )


def _query(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    """Query parameters as strings; None values are left out, booleans as ``true``/``false``."""
    if not params:
        return None
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


C = TypeVar("C")


@dataclass(frozen=True)
class Page(Generic[C]):
    """One page of a list endpoint.

    ``cursor`` is what fetched it (WooCommerce page number; Shopify ``page_info``, None for the first
    page); ``next_cursor`` is what fetches the next one (None on the last page): a backfill that has
    stored this page's records checkpoints ``next_cursor``.
    """

    records: list[dict[str, Any]]
    cursor: C | None
    next_cursor: C | None
    total: int | None = None
    total_pages: int | None = None


@dataclass
class Listing(Generic[C]):
    """The records of one list endpoint, fetched a page at a time as they are consumed.

    Iterate it for records, or call :meth:`pages` for whole pages (not both). While iterating,
    ``cursor`` is the cursor of the page holding the record yielded last: start a new listing from it
    after a restart and at most that one page is seen again. ``finished`` is True once the last page is
    used up. ``total``/``total_pages`` are the store's counts when it sends them (WooCommerce).
    """

    fetch: Callable[[C | None], Page[C]]
    start: C | None
    cursor: C | None = field(init=False)
    finished: bool = field(default=False, init=False)
    total: int | None = field(default=None, init=False)
    total_pages: int | None = field(default=None, init=False)
    pages_fetched: int = field(default=0, init=False)
    _buffer: deque[dict[str, Any]] = field(default_factory=deque, init=False, repr=False)
    _stream: Iterator[Page[C]] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.cursor = self.start

    def pages(self) -> Iterator[Page[C]]:
        """The remaining pages, one request each."""
        if self._stream is not None:
            raise RuntimeError("this listing is already being read; start a new one to read pages")
        self._stream = self._page_stream()
        return self._stream

    def __iter__(self) -> Listing[C]:
        return self

    def __next__(self) -> dict[str, Any]:
        if self._stream is None:
            self._stream = self._page_stream()
        while not self._buffer:
            page = next(self._stream)  # StopIteration ends the records too
            self._buffer.extend(page.records)
        return self._buffer.popleft()

    def _page_stream(self) -> Iterator[Page[C]]:
        cursor = self.cursor
        while True:
            page = self.fetch(cursor)
            self.pages_fetched += 1
            self.cursor = page.cursor
            self.total, self.total_pages = page.total, page.total_pages
            yield page
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        self.finished = True
