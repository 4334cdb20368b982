"""WooCommerce REST API v3 client: read orders, customers, products and refunds page by page, and write
stock levels back in batches.

Authentication is HTTP Basic (consumer key as user, secret as password), which WooCommerce accepts over
https only. Over plain http WooCommerce demands OAuth 1.0a signatures, which qbsync does not send, so
``http://`` addresses are refused unless ``allow_http`` is set — meant for the loopback test double,
which accepts Basic auth. Records are returned as the store sends them (money stays exact: JSON numbers
with a fraction become ``Decimal``); turning them into qbsync records is the normalizers' job.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx

from qbsync.storefronts.http import (
    Listing,
    Page,
    RetryPolicy,
    StoreApi,
    StorefrontAuthError,
    StorefrontError,
    StorefrontSetupError,
    StorefrontUnavailable,
    as_utc,
    safe_url,
    store_address,
)

PLATFORM = "WooCommerce"
MAX_PER_PAGE = 100  # WordPress answers rest_invalid_param above this
MAX_BATCH = 100  # WooCommerce's default limit of objects per batch request

AUTH_FIX = (
    "create a new key with Read/Write access under WooCommerce › Settings › Advanced › REST API "
    "and enter it on the connection page"
)

HTTP_REFUSED = (
    "Refusing to send the WooCommerce consumer key over plain http to {url}: enter the store's "
    "https:// address. (Over plain http WooCommerce only accepts OAuth 1.0a signed requests, "
    "which qbsync does not send.)"
)


@dataclass(frozen=True)
class StockUpdate:
    """Set one product's (or one variation's) stock to ``quantity`` units."""

    product_id: int
    variation_id: int | None
    quantity: int

    def __post_init__(self) -> None:
        for name in ("product_id", "variation_id"):
            value = getattr(self, name)
            if value is None and name == "variation_id":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"StockUpdate.{name} must be a positive WooCommerce id, not {value!r}")
        quantity = self.quantity
        if isinstance(quantity, Decimal) and quantity == quantity.to_integral_value():
            quantity = int(quantity)
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise ValueError(
                f"WooCommerce stock must be a whole number of units; got {self.quantity!r} for product "
                f"{self.product_id}{f' variation {self.variation_id}' if self.variation_id else ''}"
            )
        object.__setattr__(self, "quantity", quantity)

    @property
    def item_id(self) -> int:
        """The id WooCommerce updates: the variation's when there is one, else the product's."""
        return self.variation_id or self.product_id


@dataclass(frozen=True)
class StockResult:
    """What became of one :class:`StockUpdate`.

    ``quantity`` is the stock the store reports after the write; ``error`` the store's (or our) reason
    when ``ok`` is False; ``retryable`` is True when the store was unreachable, so trying later may work.
    """

    update: StockUpdate
    ok: bool
    quantity: int | None = None
    error: str | None = None
    retryable: bool = False


class WooCommerceClient:
    """One WooCommerce store's REST API (``<store>/wp-json/<api>/``).

    ``client``/``transport`` and ``sleep`` are for tests and for sharing connections; ``retry`` tunes how
    failed requests are retried (see :class:`~qbsync.storefronts.http.RetryPolicy`).
    """

    def __init__(
        self,
        store_url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        api: str = "wc/v3",
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        allow_http: bool = False,
    ) -> None:
        self.store_url = store_address(
            store_url, allow_http=allow_http, platform=PLATFORM, http_refused=HTTP_REFUSED
        )
        key, secret = (consumer_key or "").strip(), (consumer_secret or "").strip()
        if not key or not secret:
            raise StorefrontSetupError(f"Enter both the WooCommerce consumer key and secret; {AUTH_FIX}.")
        self.api = api.strip("/")
        self._api = StoreApi(
            f"{self.store_url}/wp-json/{self.api}/",
            platform=PLATFORM,
            auth_help=self._auth_help,
            auth=httpx.BasicAuth(key, secret),
            timeout=timeout,
            retry=retry,
            client=client,
            transport=transport,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"WooCommerceClient(store_url={self.store_url!r}, api={self.api!r}, consumer_key='***')"

    def __enter__(self) -> WooCommerceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections this client opened."""
        self._api.close()

    def _auth_help(self, status: int, message: str) -> str:
        if "missing" in message.lower():
            # Some hosts strip the Authorization header before WordPress sees it.
            return (
                f"WooCommerce at {self.store_url} did not receive the consumer key (HTTP {status}: "
                f"{message}). The web server is dropping the Authorization header; ask the host to pass "
                "it through to WordPress (e.g. CGIPassAuth On for Apache)."
            )
        return (
            f"WooCommerce at {self.store_url} refused the consumer key/secret (HTTP {status}: {message}) "
            f"— {AUTH_FIX}."
        )

    # -- reading --------------------------------------------------------------------------------------

    def iter_orders(
        self,
        *,
        modified_after: datetime | str | None = None,
        after: datetime | str | None = None,
        before: datetime | str | None = None,
        statuses: Iterable[str] | None = None,
        include: Iterable[int] | None = None,
        per_page: int = MAX_PER_PAGE,
        start_page: int = 1,
    ) -> Listing[int]:
        """Orders oldest id first, as raw WooCommerce order dicts.

        ``modified_after`` (last change), ``after``/``before`` (creation) are UTC (naive = UTC);
        ``statuses`` e.g. ``["processing", "completed"]`` (default: any); ``include`` limits to ids.
        Ordering by id keeps pages stable while new orders arrive, so ``start_page`` can resume a backfill.
        """
        params = self._order_filters(modified_after, after, before, statuses, include)
        params.update(orderby="id", order="asc")
        return self._listing("orders", params, per_page, start_page)

    def count_orders(
        self,
        *,
        modified_after: datetime | str | None = None,
        after: datetime | str | None = None,
        before: datetime | str | None = None,
        statuses: Iterable[str] | None = None,
        include: Iterable[int] | None = None,
    ) -> int:
        """How many orders match (one request, read from ``X-WP-Total``)."""
        params = self._order_filters(modified_after, after, before, statuses, include)
        _data, response = self._api.get_json("orders", {**params, "per_page": 1, "page": 1})
        total = _int_header(response, "X-WP-Total")
        if total is None:
            raise StorefrontError(
                f"WooCommerce at {self.store_url} did not send the X-WP-Total header, so orders cannot be "
                "counted; a proxy or security plugin may be removing response headers."
            )
        return total

    def get_order(self, order_id: int) -> dict[str, Any]:
        """One order by id (raises :class:`~qbsync.storefronts.http.StorefrontNotFound` when gone)."""
        data, _response = self._api.get_json(f"orders/{_id(order_id, 'order')}")
        return _record(data, "order")

    def iter_refunds(
        self, order_id: int, *, per_page: int = MAX_PER_PAGE, start_page: int = 1
    ) -> Listing[int]:
        """The full refund records of one order (amounts, line items), oldest first."""
        return self._listing(
            f"orders/{_id(order_id, 'order')}/refunds",
            {"orderby": "id", "order": "asc"},
            per_page,
            start_page,
        )

    def iter_customers(
        self,
        *,
        role: str = "customer",
        email: str | None = None,
        per_page: int = MAX_PER_PAGE,
        start_page: int = 1,
    ) -> Listing[int]:
        """Registered customers, oldest id first (guests exist only on their orders). ``role="all"`` for
        every WordPress user."""
        params = {"role": role, "email": email, "orderby": "id", "order": "asc"}
        return self._listing("customers", params, per_page, start_page)

    def iter_products(
        self,
        *,
        sku: str | None = None,
        modified_after: datetime | str | None = None,
        include_variations: bool = True,
        per_page: int = MAX_PER_PAGE,
        start_page: int = 1,
    ) -> Listing[int]:
        """Products oldest id first; each variable product is followed by its variations.

        Variations come from ``products/<id>/variations`` and carry ``parent_id`` (the variable product)
        and ``type: "variation"`` (added when the store leaves them out), so they can be told apart.
        A page's records include its products' variations; resuming at a page re-reads them too.
        """
        params: dict[str, Any] = {"sku": sku, "orderby": "id", "order": "asc"}
        if modified_after is not None:
            params.update(modified_after=_gmt(modified_after, "modified_after"), dates_are_gmt=True)
        expand = self._with_variations if include_variations else None
        return self._listing("products", params, per_page, start_page, expand=expand)

    def iter_variations(
        self, product_id: int, *, per_page: int = MAX_PER_PAGE, start_page: int = 1
    ) -> Listing[int]:
        """The variations of one variable product, oldest id first."""
        product_id = _id(product_id, "product")

        def mark(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
            for variation in records:
                variation.setdefault("parent_id", product_id)
                variation.setdefault("type", "variation")
            return records

        return self._listing(
            f"products/{product_id}/variations",
            {"orderby": "id", "order": "asc"},
            per_page,
            start_page,
            expand=mark,
        )

    def _with_variations(self, products: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for product in products:
            out.append(product)
            if product.get("type") == "variable" and isinstance(product.get("id"), int):
                out.extend(self.iter_variations(product["id"]))
        return out

    # -- writing --------------------------------------------------------------------------------------

    def set_stock(self, updates: Sequence[StockUpdate], *, manage_stock: bool = True) -> list[StockResult]:
        """Set absolute stock levels; returns one result per update, in the order given.

        Simple products go to ``POST products/batch``, variations to their parent's
        ``POST products/<parent>/variations/batch``, at most 100 per call. ``manage_stock`` switches
        WooCommerce's stock tracking on for the item (without it a quantity is ignored). An item the store
        rejects is reported in its result; a batch the store could not be reached for is reported as
        ``retryable``; refused credentials raise :class:`StorefrontAuthError` (nothing else would work).
        """
        groups: dict[int | None, list[int]] = {}
        for index, update in enumerate(updates):
            if not isinstance(update, StockUpdate):
                raise TypeError(f"set_stock takes StockUpdate objects, not {type(update).__name__}")
            groups.setdefault(update.product_id if update.variation_id else None, []).append(index)
        results: list[StockResult | None] = [None] * len(updates)
        for parent, indexes in groups.items():
            path = f"products/{parent}/variations/batch" if parent else "products/batch"
            for start in range(0, len(indexes), MAX_BATCH):
                chunk = indexes[start : start + MAX_BATCH]
                for index, result in zip(
                    chunk, self._write_batch(path, [updates[i] for i in chunk], manage_stock), strict=True
                ):
                    results[index] = result
        return [r for r in results if r is not None]

    def _write_batch(self, path: str, chunk: list[StockUpdate], manage_stock: bool) -> list[StockResult]:
        body = {
            "update": [
                {"id": u.item_id, "manage_stock": manage_stock, "stock_quantity": u.quantity} for u in chunk
            ]
        }
        try:
            data, _response = self._api.post_json(path, body)
        except StorefrontAuthError:
            raise
        except StorefrontError as exc:
            retryable = isinstance(exc, StorefrontUnavailable)
            return [StockResult(u, ok=False, error=str(exc), retryable=retryable) for u in chunk]
        answered = data.get("update") if isinstance(data, dict) else None
        if not isinstance(answered, list):
            answered = []
        # WooCommerce answers in request order; fall back to matching by id if the lengths disagree.
        by_position = len(answered) == len(chunk)
        by_id = {item.get("id"): item for item in answered if isinstance(item, dict)}
        results = []
        for position, update in enumerate(chunk):
            item = answered[position] if by_position else by_id.get(update.item_id)
            results.append(_stock_result(update, item, self.store_url))
        return results

    # -- checking -------------------------------------------------------------------------------------

    def check_credentials(self) -> str:
        """One authenticated read to prove the key works; returns a short description of the store.

        Raises :class:`StorefrontAuthError` (with the fix) when the key is refused. A read-only key passes
        here; stock write-back will then be refused with the same advice.
        """
        count = self.count_orders()
        name = self._site_name()
        label = f"“{name}” at {self.store_url}" if name else self.store_url
        return f"WooCommerce store {label}: REST API {self.api} answered; {count:,} orders readable"

    def timezone(self) -> str | None:
        """The site's time zone (IANA name) from the WordPress REST index's ``timezone_string``, best
        effort: None when the site sets only a UTC offset or the index cannot be read."""
        try:
            data, _response = self._api.get_json(f"{self.store_url}/wp-json/", attempts=1)
        except StorefrontError:
            return None
        zone = str(data.get("timezone_string") or "").strip() if isinstance(data, dict) else ""
        return zone or None

    def _site_name(self) -> str | None:
        """The WordPress site name from the REST index, best effort (one try, failures ignored)."""
        try:
            data, _response = self._api.get_json(f"{self.store_url}/wp-json/", attempts=1)
        except StorefrontError:
            return None
        name = str(data.get("name") or "").strip() if isinstance(data, dict) else ""
        return name or None

    # -- paging ---------------------------------------------------------------------------------------

    def _order_filters(
        self,
        modified_after: datetime | str | None,
        after: datetime | str | None,
        before: datetime | str | None,
        statuses: Iterable[str] | None,
        include: Iterable[int] | None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if modified_after is not None:
            params["modified_after"] = _gmt(modified_after, "modified_after")
        if after is not None:
            params["after"] = _gmt(after, "after")
        if before is not None:
            params["before"] = _gmt(before, "before")
        if params:
            params["dates_are_gmt"] = True
        if statuses is not None:
            wanted = [s.strip() for s in ([statuses] if isinstance(statuses, str) else statuses)]
            if not wanted or not all(wanted):
                raise ValueError("statuses must name at least one WooCommerce order status, e.g. 'completed'")
            params["status"] = ",".join(wanted)
        if include is not None:
            ids = [_id(i, "order") for i in include]
            if not ids:
                raise ValueError("include must list at least one order id")
            params["include"] = ",".join(map(str, ids))
        return params

    def _listing(
        self,
        path: str,
        params: dict[str, Any],
        per_page: int,
        start_page: int,
        expand: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
    ) -> Listing[int]:
        if isinstance(per_page, bool) or not isinstance(per_page, int) or not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(
                f"per_page must be between 1 and {MAX_PER_PAGE} for WooCommerce, not {per_page!r}"
            )
        if isinstance(start_page, bool) or not isinstance(start_page, int) or start_page < 1:
            raise ValueError(f"start_page must be 1 or more, not {start_page!r}")

        def fetch(page: int | None) -> Page[int]:
            page = page or 1
            try:
                data, response = self._api.get_json(path, {**params, "page": page, "per_page": per_page})
            except StorefrontError as exc:
                # Resuming past the end (records were deleted meanwhile): WordPress answers 400.
                if page > 1 and exc.code == "rest_post_invalid_page_number":
                    return Page([], page, None)
                raise
            if not isinstance(data, list):
                raise StorefrontError(
                    f"WooCommerce at {safe_url(response.request.url)} answered a list "
                    "request with something that is not a list."
                )
            total = _int_header(response, "X-WP-Total")
            total_pages = _int_header(response, "X-WP-TotalPages")
            # Without the headers (a proxy removed them) a full page means there may be more.
            more = page < total_pages if total_pages is not None else len(data) == per_page
            records = expand(data) if expand else data
            return Page(records, page, page + 1 if more else None, total, total_pages)

        return Listing(fetch, start_page)


def _stock_result(update: StockUpdate, item: Any, store_url: str) -> StockResult:
    if not isinstance(item, dict):
        return StockResult(
            update,
            ok=False,
            retryable=True,
            error=f"WooCommerce at {store_url} did not report on item {update.item_id}",
        )
    error = item.get("error")
    if error:
        message = error.get("message", error) if isinstance(error, dict) else error
        return StockResult(
            update,
            ok=False,
            error=f"WooCommerce refused the stock change for item {update.item_id}: {message}",
        )
    quantity = item.get("stock_quantity")
    if isinstance(quantity, Decimal):
        quantity = int(quantity)
    return StockResult(update, ok=True, quantity=quantity if isinstance(quantity, int) else None)


def _record(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise StorefrontError(
            f"WooCommerce answered a request for one {what} with something that is not a {what}."
        )
    return data


def _gmt(value: datetime | str, what: str) -> str:
    """A UTC time as WooCommerce's ``dates_are_gmt=true`` filters expect it (no offset suffix)."""
    return as_utc(value, what).strftime("%Y-%m-%dT%H:%M:%S")


def _id(value: Any, what: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{value!r} is not a WooCommerce {what} id")
    return value


def _int_header(response: httpx.Response, name: str) -> int | None:
    try:
        return int(response.headers[name])
    except (KeyError, ValueError):
        return None
