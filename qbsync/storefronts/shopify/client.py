"""Shopify Admin REST API client: read orders, customers and products with cursor paging, set inventory
levels, and stay inside Shopify's leaky-bucket rate limit.

Requests carry ``X-Shopify-Access-Token``. Pages follow the ``Link: <...page_info=...>; rel="next"``
header; once a ``page_info`` is in play only ``limit`` (and ``fields``) may accompany it — Shopify rejects
repeated filters — so filters go into the first request only. After every answer the bucket fill from
``X-Shopify-Shop-Api-Call-Limit`` (e.g. ``32/40``) is noted and the next request waits while the bucket
is nearly full; a 429 is still retried after its ``Retry-After``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx

from qbsync.storefronts.http import (
    Listing,
    Page,
    RetryPolicy,
    StoreApi,
    StorefrontError,
    StorefrontSetupError,
    as_utc,
    store_address,
)
from qbsync.storefronts.shopify.gateways import needs_transactions

PLATFORM = "Shopify"
MAX_LIMIT = 250
DEFAULT_API_VERSION = "2026-07"
SCOPES = "read_orders, read_customers, read_products, read_locations, read_inventory and write_inventory"

HTTP_REFUSED = (
    "Shopify stores are reached over https only; enter the shop as https://<shop>.myshopify.com ({url})"
)

_VERSION = re.compile(r"^(\d{4}-\d{2}|unstable)$")
_CALL_LIMIT = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class ShopifyClient:
    """One Shopify shop's Admin REST API (``<shop>/admin/api/<api_version>/``).

    ``location_id`` is where stock is written when a call names none; without it the shop's primary
    location is used (see :meth:`default_location_id`). ``leak_rate`` is the bucket's drain in requests
    per second (2 on standard plans, 4 Advanced, 20 Plus) and ``slow_down_at`` the fill fraction from
    which requests are spaced out (None: never pace, rely on 429 + ``Retry-After`` alone). ``sleep`` and
    ``clock`` (seconds, monotonic) are injectable so tests can run the bucket on a fake clock.
    """

    def __init__(
        self,
        shop_url: str,
        access_token: str,
        *,
        api_version: str = DEFAULT_API_VERSION,
        location_id: int | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        allow_http: bool = False,
        leak_rate: float = 2.0,
        slow_down_at: float | None = 0.8,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.shop_url = store_address(
            shop_url, allow_http=allow_http, platform=PLATFORM, http_refused=HTTP_REFUSED
        )
        token = (access_token or "").strip()
        if not token:
            raise StorefrontSetupError("Enter the Shopify Admin API access token (it starts with shpat_).")
        if not _VERSION.match(api_version or ""):
            raise StorefrontSetupError(
                f"Shopify API version {api_version!r} is not like {DEFAULT_API_VERSION}."
            )
        if leak_rate <= 0:
            raise ValueError("leak_rate must be a positive number of requests per second")
        if slow_down_at is not None and not 0 < slow_down_at <= 1:
            raise ValueError("slow_down_at must be a fraction between 0 and 1, or None")
        self.api_version = api_version
        self.location_id = _optional_id(location_id, "location")
        self.leak_rate = leak_rate
        self.slow_down_at = slow_down_at
        self._sleep = sleep
        self._clock = clock
        self._bucket_used: float | None = None
        self._bucket_size: int | None = None
        self._bucket_seen = 0.0
        self._default_location: int | None = None
        self._api = StoreApi(
            f"{self.shop_url}/admin/api/{api_version}/",
            platform=PLATFORM,
            auth_help=self._auth_help,
            headers={"X-Shopify-Access-Token": token},
            timeout=timeout,
            retry=retry,
            client=client,
            transport=transport,
            sleep=sleep,
            before_request=self._pace,
            after_response=self._note_call_limit,
        )

    def __repr__(self) -> str:
        return (
            f"ShopifyClient(shop_url={self.shop_url!r}, api_version={self.api_version!r}, "
            f"location_id={self.location_id!r}, access_token='***')"
        )

    def __enter__(self) -> ShopifyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections this client opened."""
        self._api.close()

    def _auth_help(self, status: int, message: str) -> str:
        if status == 403:
            return (
                f"The Shopify access token for {self.shop_url} lacks a permission this needs (HTTP 403: "
                f"{message}). In the Shopify admin open Settings › Apps and sales channels › Develop apps "
                f"› your app › Configuration, grant {SCOPES}, reinstall the app and enter the new Admin "
                "API access token on the connection page."
            )
        return (
            f"Shopify refused the access token for {self.shop_url} (HTTP {status}: {message}). In the "
            "Shopify admin open Settings › Apps and sales channels › Develop apps › your app › API "
            "credentials, install the app (or reveal its Admin API access token, starting with shpat_) "
            "and enter that token on the connection page."
        )

    # -- rate limit -----------------------------------------------------------------------------------

    @property
    def bucket(self) -> tuple[int, int] | None:
        """The last reported bucket fill as (used, size), e.g. (32, 40); None before the first answer."""
        if self._bucket_size is None or self._bucket_used is None:
            return None
        return round(self._bucket_used), self._bucket_size

    def _note_call_limit(self, response: httpx.Response) -> None:
        if response.status_code == 429:
            # The retry already waits for Retry-After; pacing on top of it would wait twice.
            self._bucket_used = None
            return
        match = _CALL_LIMIT.match(response.headers.get("X-Shopify-Shop-Api-Call-Limit", ""))
        if match:
            self._bucket_used, self._bucket_size = float(match[1]), int(match[2])
            self._bucket_seen = self._clock()

    def _pace(self) -> None:
        """Wait before a request while the bucket is nearly full, so Shopify never has to answer 429."""
        if self.slow_down_at is None or self._bucket_size is None or self._bucket_used is None:
            return
        now = self._clock()
        level = max(0.0, self._bucket_used - self.leak_rate * (now - self._bucket_seen))
        threshold = self.slow_down_at * self._bucket_size
        if level + 1 > threshold:
            wait = (level + 1 - threshold) / self.leak_rate
            self._sleep(wait)
            level = max(0.0, level - self.leak_rate * wait)
        self._bucket_used, self._bucket_seen = level, self._clock()

    # -- reading --------------------------------------------------------------------------------------

    def iter_orders(
        self,
        *,
        updated_at_min: datetime | str | None = None,
        created_at_min: datetime | str | None = None,
        created_at_max: datetime | str | None = None,
        status: str = "any",
        financial_status: str | None = None,
        ids: Iterable[int] | None = None,
        limit: int = MAX_LIMIT,
        fields: Iterable[str] | None = None,
        page_info: str | None = None,
    ) -> Listing[str]:
        """Orders as raw Shopify order dicts (unwrapped), every status by default (Shopify's own default
        is open orders only). Times are UTC (naive = UTC).

        ``page_info`` resumes at a cursor saved from :attr:`Listing.cursor` or :attr:`Page.next_cursor`;
        the filters are then ignored because the cursor carries those of the first request.
        """
        filters = self._order_filters(
            updated_at_min, created_at_min, created_at_max, status, financial_status, ids
        )
        return self._listing("orders", "orders", filters, limit, fields, page_info)

    def count_orders(
        self,
        *,
        updated_at_min: datetime | str | None = None,
        created_at_min: datetime | str | None = None,
        created_at_max: datetime | str | None = None,
        status: str = "any",
        financial_status: str | None = None,
    ) -> int:
        """How many orders match (``orders/count.json``, one request)."""
        filters = self._order_filters(
            updated_at_min, created_at_min, created_at_max, status, financial_status, None
        )
        data, _response = self._api.get_json("orders/count.json", filters)
        count = data.get("count") if isinstance(data, dict) else None
        if not isinstance(count, int):
            raise StorefrontError(f"Shopify at {self.shop_url} answered orders/count.json without a count.")
        return count

    def get_order(self, order_id: int) -> dict[str, Any]:
        """One order by id, unwrapped (raises :class:`~qbsync.storefronts.http.StorefrontNotFound`)."""
        data, _response = self._api.get_json(f"orders/{_id(order_id, 'order')}.json")
        return _unwrap(data, "order", self.shop_url)

    def order_transactions(self, order_id: int) -> list[dict[str, Any]]:
        """The order's transactions (``orders/<id>/transactions.json``, one request: Shopify does not page
        them), amounts in the shop's currency (``in_shop_currency``) as the order's books are."""
        data, _response = self._api.get_json(
            f"orders/{_id(order_id, 'order')}/transactions.json", {"in_shop_currency": "true"}
        )
        found = data.get("transactions") if isinstance(data, dict) else None
        if not isinstance(found, list):
            raise StorefrontError(f"Shopify at {self.shop_url} answered transactions.json without them.")
        return found

    def with_transactions(self, orders: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """``orders`` (raw order dicts), each paid through several gateways or with a gift card given its
        ``transactions`` (see :func:`qbsync.storefronts.shopify.gateways.needs_transactions`), so it
        tells what each gateway paid; the others unchanged."""
        return [
            {**order, "transactions": self.order_transactions(order["id"])}
            if needs_transactions(order) else order
            for order in orders
        ]

    def iter_customers(
        self,
        *,
        updated_at_min: datetime | str | None = None,
        limit: int = MAX_LIMIT,
        page_info: str | None = None,
    ) -> Listing[str]:
        """Customers as raw Shopify customer dicts."""
        filters = {"updated_at_min": _iso(updated_at_min, "updated_at_min")}
        return self._listing("customers", "customers", filters, limit, None, page_info)

    def iter_products(
        self,
        *,
        updated_at_min: datetime | str | None = None,
        limit: int = MAX_LIMIT,
        page_info: str | None = None,
    ) -> Listing[str]:
        """Products with their ``variants`` (each with ``sku`` and ``inventory_item_id``)."""
        filters = {"updated_at_min": _iso(updated_at_min, "updated_at_min")}
        return self._listing("products", "products", filters, limit, None, page_info)

    def shop(self) -> dict[str, Any]:
        """The shop record (``shop.json``): name, domains, currency, ``primary_location_id``..."""
        data, _response = self._api.get_json("shop.json")
        return _unwrap(data, "shop", self.shop_url)

    def timezone(self) -> str | None:
        """The shop's time zone (``shop.iana_timezone``), or None."""
        return str(self.shop().get("iana_timezone") or "").strip() or None

    def locations(self) -> list[dict[str, Any]]:
        """The shop's locations (``locations.json``)."""
        data, _response = self._api.get_json("locations.json")
        found = data.get("locations") if isinstance(data, dict) else None
        if not isinstance(found, list):
            raise StorefrontError(f"Shopify at {self.shop_url} answered locations.json without locations.")
        return found

    def default_location_id(self) -> int:
        """Where stock is written: the configured location, else the shop's primary location, else its only
        active location. Raises :class:`StorefrontSetupError` when that is ambiguous."""
        if self.location_id is not None:
            return self.location_id
        if self._default_location is None:
            self._default_location = self._primary_or_only_location()
        return self._default_location

    def _primary_or_only_location(self) -> int:
        active = [loc for loc in self.locations() if loc.get("active", True)]
        ids = {loc.get("id") for loc in active}
        primary = self.shop().get("primary_location_id")
        if primary is not None and primary in ids:
            return _id(primary, "location")
        if len(active) == 1:
            return _id(active[0].get("id"), "location")
        names = ", ".join(f"{loc.get('name')} ({loc.get('id')})" for loc in active) or "none"
        raise StorefrontSetupError(
            f"Shopify shop {self.shop_url} has no single location to write stock to (active "
            f"locations: {names}); choose one on the connection page."
        )

    # -- writing --------------------------------------------------------------------------------------

    def set_inventory(
        self, inventory_item_id: int, quantity: int, location_id: int | None = None
    ) -> dict[str, Any]:
        """Set the ``available`` stock of one inventory item at one location (absolute, so safe to retry).

        Returns Shopify's inventory level ``{inventory_item_id, location_id, available, updated_at}``.
        Use the variant's ``inventory_item_id``, not its id. The item must be tracked by Shopify.
        """
        item = _id(inventory_item_id, "inventory item")
        location = _optional_id(location_id, "location") or self.default_location_id()
        body = {"location_id": location, "inventory_item_id": item, "available": _whole(quantity, item)}
        data, _response = self._api.post_json("inventory_levels/set.json", body)
        return _unwrap(data, "inventory_level", self.shop_url)

    # -- checking -------------------------------------------------------------------------------------

    def check_credentials(self) -> str:
        """One authenticated read (``shop.json``); returns a short description of the shop.

        Raises :class:`~qbsync.storefronts.http.StorefrontAuthError` (with the fix) when refused.
        """
        shop = self.shop()
        name = shop.get("name") or shop.get("myshopify_domain") or self.shop_url
        domain = shop.get("myshopify_domain") or shop.get("domain") or self.shop_url
        plan = f", plan {shop['plan_name']}" if shop.get("plan_name") else ""
        return f"Shopify shop “{name}” ({domain}{plan}): Admin API {self.api_version} answered"

    # -- paging ---------------------------------------------------------------------------------------

    def _order_filters(
        self,
        updated_at_min: datetime | str | None,
        created_at_min: datetime | str | None,
        created_at_max: datetime | str | None,
        status: str,
        financial_status: str | None,
        ids: Iterable[int] | None,
    ) -> dict[str, Any]:
        if status not in ("any", "open", "closed", "cancelled"):
            raise ValueError(f"status must be any, open, closed or cancelled, not {status!r}")
        filters: dict[str, Any] = {
            "status": status,
            "financial_status": financial_status,
            "updated_at_min": _iso(updated_at_min, "updated_at_min"),
            "created_at_min": _iso(created_at_min, "created_at_min"),
            "created_at_max": _iso(created_at_max, "created_at_max"),
        }
        if ids is not None:
            wanted = [_id(i, "order") for i in ids]
            if not wanted:
                raise ValueError("ids must list at least one order id")
            filters["ids"] = ",".join(map(str, wanted))
        return filters

    def _listing(
        self,
        resource: str,
        key: str,
        filters: dict[str, Any],
        limit: int,
        fields: Iterable[str] | None,
        page_info: str | None,
    ) -> Listing[str]:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT} for Shopify, not {limit!r}")
        if page_info is not None and (not isinstance(page_info, str) or not page_info.strip()):
            raise ValueError("page_info must be a cursor string saved from an earlier listing, or None")
        field_list = ",".join(fields) if fields is not None else None

        def fetch(cursor: str | None) -> Page[str]:
            params: dict[str, Any] = {"limit": limit, "fields": field_list}
            if cursor:
                params["page_info"] = cursor  # the cursor carries the first request's filters
            else:
                params.update(filters)
            data, response = self._api.get_json(f"{resource}.json", params)
            records = data.get(key) if isinstance(data, dict) else None
            if not isinstance(records, list):
                raise StorefrontError(f"Shopify at {self.shop_url} answered {resource}.json without {key}.")
            return Page(records, cursor, _next_page_info(response))

        return Listing(fetch, page_info)


def _next_page_info(response: httpx.Response) -> str | None:
    """The ``page_info`` of the ``rel="next"`` link, None on the last page."""
    url = response.links.get("next", {}).get("url")
    if not url:
        return None
    return httpx.URL(url).params.get("page_info") or None


def _unwrap(data: Any, key: str, shop_url: str) -> dict[str, Any]:
    record = data.get(key) if isinstance(data, dict) else None
    if not isinstance(record, dict):
        raise StorefrontError(f"Shopify at {shop_url} answered without the expected {key}.")
    return record


def _iso(value: datetime | str | None, what: str) -> str | None:
    return None if value is None else as_utc(value, what).isoformat()


def _id(value: Any, what: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{value!r} is not a Shopify {what} id")
    return value


def _optional_id(value: Any, what: str) -> int | None:
    return None if value is None or value == "" else _id(value, what)


def _whole(quantity: Any, item: int) -> int:
    if isinstance(quantity, Decimal) and quantity == quantity.to_integral_value():
        quantity = int(quantity)
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise ValueError(
            f"Shopify stock must be a whole number of units; got {quantity!r} for inventory item {item}"
        )
    return quantity
