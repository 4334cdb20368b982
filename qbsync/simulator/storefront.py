"""A storefront double: enough of the WooCommerce REST v3 and Shopify Admin REST APIs, served over real
HTTP on 127.0.0.1, for the REST clients' tests and the backfill/sweep/write-back benchmarks.

It keeps records in memory and answers the way the real platforms do where the clients care: WooCommerce
``page``/``per_page`` paging with ``X-WP-Total``/``X-WP-TotalPages``, Basic-auth checks with WooCommerce's
JSON error bodies, batch stock updates; Shopify ``Link`` header cursors (rejecting filters next to
``page_info``), ``X-Shopify-Shop-Api-Call-Limit`` with a real leaky bucket answering 429 + ``Retry-After``,
token checks, ``inventory_levels/set``. Faults can be injected (failures, forced 429s, latency), and every
request and stock write is recorded for assertions.

    with StorefrontDouble() as double:
        double.add_orders(make_orders(250, "woocommerce"))  # or generate_orders(50_000, ...) for benchmarks
        client = WooCommerceClient(double.base_url, double.consumer_key, double.consumer_secret,
                                   allow_http=True)
"""

from __future__ import annotations

import base64
import binascii
import bisect
import gc
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from qbsync.simulator.storefront_data import generate_orders, make_customers, make_orders, make_products

__all__ = [
    "RecordedRequest",
    "StorefrontDouble",
    "generate_orders",
    "make_customers",
    "make_orders",
    "make_products",
]

WOO_MAX_PER_PAGE = 100
WOO_MAX_BATCH = 100
SHOPIFY_MAX_LIMIT = 250
SHOPIFY_SCOPES = frozenset(
    {"read_orders", "read_customers", "read_products", "read_locations", "read_inventory", "write_inventory"}
)
_THROTTLED = (
    "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
)
_WOO_SITE_OFFSET = timedelta(hours=-5)  # site time of the made-up stores (see storefront_data)
_PAGING_DOC = "See https://shopify.dev/api/usage/pagination-rest for more information."


@dataclass(frozen=True)
class RecordedRequest:
    """One request the double answered: ``path`` without query, ``params`` the query (first values)."""

    method: str
    path: str
    params: dict[str, str]
    status: int
    body: Any = None


class _Reply(Exception):
    """Raised inside a handler to answer at once with a JSON error body."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, dict(headers or {})


def _woo_error(status: int, code: str, message: str, **data: Any) -> _Reply:
    return _Reply(status, {"code": code, "message": message, "data": {"status": status, **data}})


def _shopify_error(status: int, errors: Any) -> _Reply:
    return _Reply(status, {"errors": errors})


# Top-level fields the double filters and sorts on; the rest of a record is only ever served.
_INDEXED = (
    "status",
    "date_created",
    "date_created_gmt",
    "date_modified",
    "date_modified_gmt",
    "sku",
    "type",
    "parent_id",
    "role",
    "email",
    "last_name",
    "name",
    "closed_at",
    "cancelled_at",
    "financial_status",
    "fulfillment_status",
    "created_at",
    "updated_at",
)


class _Raw:
    """An answer body that is already JSON."""

    def __init__(self, data: bytes) -> None:
        self.data = data


class _Collection:
    """Records of one resource by id, kept as JSON bytes plus a small index of filterable fields.

    Bytes keep 50,000 orders cheap: nothing for the garbage collector to walk through and nothing to
    re-serialize per page. Filtered/sorted views are cached until the next change.
    """

    def __init__(self) -> None:
        self.raw: dict[int, bytes] = {}
        self.index: dict[int, dict[str, Any]] = {}
        self._views: dict[Any, tuple[list[dict[str, Any]], list[int]]] = {}

    def put(self, record: Mapping[str, Any]) -> None:
        record_id = record.get("id")
        if isinstance(record_id, bool) or not isinstance(record_id, int):
            raise ValueError(f"every record needs an integer 'id'; got {record_id!r}")
        self.raw[record_id] = json.dumps(record, separators=(",", ":"), default=_json_default).encode()
        summary = {k: v for k in _INDEXED if isinstance(v := record.get(k), str | int | float)}
        summary["id"] = record_id
        if "created_at" in summary:  # Shopify times carry offsets: compare instants
            summary["_created"] = _epoch(summary["created_at"])
            summary["_updated"] = _epoch(summary.get("updated_at") or summary["created_at"])
        self.index[record_id] = summary
        self._views.clear()

    def get(self, record_id: Any) -> dict[str, Any] | None:
        """A fresh copy of one record (None when absent)."""
        raw = self.raw.get(record_id) if isinstance(record_id, int) else None
        return None if raw is None else json.loads(raw)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self.raw

    def change(self, record_id: int, edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Apply ``edit`` to a record and store the result; returns it."""
        record = self.get(record_id)
        if record is None:
            raise KeyError(record_id)
        edit(record)
        self.put(record)
        return record

    def remove(self, record_id: int) -> None:
        """Forget a record (KeyError when absent)."""
        del self.raw[record_id]
        del self.index[record_id]
        self._views.clear()

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(self.raw[i]) for i in sorted(self.raw)]

    def view(
        self, key: Any, build: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
    ) -> tuple[list[dict[str, Any]], list[int]]:
        """(index entries, their ids) for ``key``, built once from the id-ordered index."""
        found = self._views.get(key)
        if found is None:
            entries = build([self.index[i] for i in sorted(self.index)])
            found = self._views[key] = (entries, [e["id"] for e in entries])
        return found

    def body(self, entries: list[dict[str, Any]], wrap: str | None = None) -> _Raw:
        """A JSON list of these records, optionally as ``{"<wrap>": [...]}``."""
        items = b",".join(self.raw[e["id"]] for e in entries)
        if wrap:
            return _Raw(b'{"' + wrap.encode() + b'":[' + items + b"]}")
        return _Raw(b"[" + items + b"]")


class _QuietHandler(WSGIRequestHandler):
    """No per-request log lines on stderr."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log(self, *args: Any, **kwargs: Any) -> None:
        pass


class StorefrontDouble:
    """A WooCommerce + Shopify REST double; one instance serves both under one base URL.

    WooCommerce: ``<base_url>/wp-json/wc/v3/...`` with ``consumer_key``/``consumer_secret`` (Basic auth).
    Shopify: ``<base_url>/admin/api/<version>/...`` with ``access_token``. The Shopify bucket holds
    ``bucket_size`` requests and drains ``leak_rate`` per second (Shopify standard: 40 and 2).
    Set ``woo_read_only`` to make the WooCommerce key a Read key, ``shopify_scopes`` to withhold scopes.
    """

    def __init__(
        self,
        *,
        consumer_key: str = "ck_double0000000000000000000000000000000",
        consumer_secret: str = "cs_double0000000000000000000000000000000",  # noqa: S107 - a test double's
        access_token: str = "shpat_double000000000000000000000",  # noqa: S107 - made-up credentials
        bucket_size: int = 40,
        leak_rate: float = 2.0,
        shop_name: str = "Double Shop",
        locations: Iterable[dict[str, Any]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if bucket_size < 1 or leak_rate <= 0:
            raise ValueError("bucket_size must be at least 1 and leak_rate positive")
        self.consumer_key, self.consumer_secret, self.access_token = (
            consumer_key,
            consumer_secret,
            access_token,
        )
        self.bucket_size, self.leak_rate, self._clock = bucket_size, leak_rate, clock
        self.shop_name = shop_name
        self.woo_read_only = False
        self.shopify_scopes: set[str] = set(SHOPIFY_SCOPES)
        self.locations: list[dict[str, Any]] = list(
            locations
            or [
                {
                    "id": 655441491,
                    "name": "Main warehouse",
                    "active": True,
                    "legacy": False,
                    "address1": "969 Market",
                    "city": "San Francisco",
                    "country_code": "US",
                },
            ]
        )
        self.primary_location_id: int | None = self.locations[0]["id"] if self.locations else None
        self.latency = 0.0
        self.requests: list[RecordedRequest] = []
        self.stock_writes: list[dict[str, Any]] = []
        self.rate_limited: list[float] = []  # the Retry-After of every 429 answered
        self.inventory_levels: dict[tuple[int, int], int] = {}
        self._woo = {name: _Collection() for name in ("orders", "customers", "products", "variations")}
        self._woo_refund_records: dict[int, list[dict[str, Any]]] = {}
        self._shopify = {name: _Collection() for name in ("orders", "customers", "products")}
        self._order_transactions: dict[int, list[dict[str, Any]]] = {}
        self._inventory_items: dict[int, int] = {}  # Shopify inventory item id -> product id
        self._faults: deque[tuple[int, float | None]] = deque()
        self._delays: deque[float] = deque()
        self._bucket_level = 0.0
        self._bucket_time = clock()
        self._lock = threading.RLock()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._urls = Map(
            [
                Rule("/wp-json/", endpoint="wp_index"),
                Rule("/wp-json/wc/<api>/orders", endpoint="woo_orders", methods=["GET"]),
                Rule("/wp-json/wc/<api>/orders/<int:order_id>", endpoint="woo_order", methods=["GET"]),
                Rule(
                    "/wp-json/wc/<api>/orders/<int:order_id>/refunds", endpoint="woo_refunds", methods=["GET"]
                ),
                Rule("/wp-json/wc/<api>/customers", endpoint="woo_customers", methods=["GET"]),
                Rule("/wp-json/wc/<api>/products", endpoint="woo_products", methods=["GET"]),
                Rule("/wp-json/wc/<api>/products/batch", endpoint="woo_products_batch", methods=["POST"]),
                Rule(
                    "/wp-json/wc/<api>/products/<int:product_id>/variations",
                    endpoint="woo_variations",
                    methods=["GET"],
                ),
                Rule(
                    "/wp-json/wc/<api>/products/<int:product_id>/variations/batch",
                    endpoint="woo_variations_batch",
                    methods=["POST"],
                ),
                Rule("/admin/api/<version>/orders.json", endpoint="shopify_orders", methods=["GET"]),
                Rule(
                    "/admin/api/<version>/orders/count.json", endpoint="shopify_orders_count", methods=["GET"]
                ),
                Rule(
                    "/admin/api/<version>/orders/<int:order_id>.json",
                    endpoint="shopify_order",
                    methods=["GET"],
                ),
                Rule(
                    "/admin/api/<version>/orders/<int:order_id>/transactions.json",
                    endpoint="shopify_transactions",
                    methods=["GET"],
                ),
                Rule("/admin/api/<version>/customers.json", endpoint="shopify_customers", methods=["GET"]),
                Rule("/admin/api/<version>/products.json", endpoint="shopify_products", methods=["GET"]),
                Rule("/admin/api/<version>/locations.json", endpoint="shopify_locations", methods=["GET"]),
                Rule("/admin/api/<version>/shop.json", endpoint="shopify_shop", methods=["GET"]),
                Rule(
                    "/admin/api/<version>/inventory_levels/set.json",
                    endpoint="shopify_inventory_set",
                    methods=["POST"],
                ),
            ]
        )

    # -- serving --------------------------------------------------------------------------------------

    def start(self) -> str:
        """Serve on 127.0.0.1 (a free port) in a background thread; returns :attr:`base_url`."""
        if self._server is None:
            self._server = make_server("127.0.0.1", 0, self, threaded=True, request_handler=_QuietHandler)
            # A short poll interval lets stop() return quickly (tests start and stop many doubles).
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.02},
                name="storefront-double",
                daemon=True,
            )
            self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = self._thread = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` while serving."""
        if self._server is None:
            raise RuntimeError("the storefront double is not running; call start() first")
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> StorefrontDouble:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- data -----------------------------------------------------------------------------------------

    def add_orders(self, orders: Iterable[Mapping[str, Any]], platform: str | None = None) -> None:
        """Add or replace orders (stored as copies). ``platform`` is guessed per order when not given
        (Shopify orders have ``financial_status`` or ``order_number``). WooCommerce ``refunds`` summaries
        become refund records at ``orders/<id>/refunds`` unless :meth:`add_refunds` set them."""
        collecting = gc.isenabled()
        gc.disable()  # tens of thousands of short-lived containers: see storefront_data.make_orders
        try:
            with self._lock:
                for order in orders:
                    self._store(platform or _guess_platform(order))["orders"].put(order)
        finally:
            if collecting:
                gc.enable()

    def add_customers(self, customers: Iterable[Mapping[str, Any]], platform: str) -> None:
        """Add or replace customers of ``platform``."""
        with self._lock:
            for customer in customers:
                self._store(platform)["customers"].put(customer)

    def add_products(self, products: Iterable[Mapping[str, Any]], platform: str) -> None:
        """Add or replace products of ``platform``. WooCommerce records with ``type: "variation"`` (or a
        non-zero ``parent_id``) are filed as variations of that parent. Shopify variants' inventory items
        become writable through ``inventory_levels/set``."""
        with self._lock:
            store = self._store(platform)
            for product in products:
                if platform == "woocommerce" and (
                    product.get("type") == "variation" or product.get("parent_id")
                ):
                    store["variations"].put(product)
                    continue
                store["products"].put(product)
                if platform == "shopify":
                    for variant in product.get("variants") or []:
                        self._inventory_items[variant["inventory_item_id"]] = product["id"]

    def add_variations(self, product_id: int, variations: Iterable[Mapping[str, Any]]) -> None:
        """Add WooCommerce variations of ``product_id`` (e.g. the reference sample, which has no parent)."""
        with self._lock:
            for variation in variations:
                self._woo["variations"].put({**variation, "parent_id": product_id})

    def add_refunds(self, order_id: int, refunds: Iterable[Mapping[str, Any]]) -> None:
        """Set the full WooCommerce refund records of one order."""
        with self._lock:
            self._woo_refund_records[order_id] = [dict(r) for r in refunds]

    def add_transactions(self, order_id: int, transactions: Iterable[Mapping[str, Any]]) -> None:
        """Set the Shopify transactions of one order (``orders/<id>/transactions.json``); an order without
        them answers one successful sale of its total through its first gateway."""
        with self._lock:
            self._order_transactions[order_id] = [{**t, "order_id": order_id} for t in transactions]

    def update_order(
        self, order_id: int, changes: Mapping[str, Any], *, platform: str, modified_at: datetime | None = None
    ) -> dict[str, Any]:
        """Change an order as if a person edited it in the store: applies ``changes`` and moves its
        last-modified time to ``modified_at`` (naive = UTC; default now). Returns the new order."""
        when = modified_at or datetime.now(UTC)
        when = (when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when).replace(microsecond=0)

        def edit(order: dict[str, Any]) -> None:
            order.update(changes)
            if platform == "shopify":
                order["updated_at"] = when.isoformat() + "+00:00"
            else:
                order["date_modified_gmt"] = when.isoformat()
                order["date_modified"] = (when + _WOO_SITE_OFFSET).isoformat()

        with self._lock:
            return self._store(platform)["orders"].change(order_id, edit)

    def delete_order(self, order_id: int, *, platform: str) -> None:
        """Delete an order for good, as a person emptying it from the trash (WooCommerce) or deleting it
        (Shopify): reading it then answers 404 like the real APIs (WooCommerce
        ``woocommerce_rest_shop_order_invalid_id``, Shopify ``{"errors": "Not Found"}``; the same answers
        the double gives for an id it never had). To put a WooCommerce order in the trash instead, use
        :meth:`update_order` with ``{"status": "trash"}``: the REST API still returns a trashed order,
        with that status (WooCommerce REST API docs, "Delete an order": without ``force`` it is moved
        to the trash)."""
        with self._lock:
            self._store(platform)["orders"].remove(order_id)

    def orders(self, platform: str) -> list[dict[str, Any]]:
        """Copies of the orders held for ``platform``, by id (change them with :meth:`update_order`)."""
        with self._lock:
            return self._store(platform)["orders"].all()

    def product(self, product_id: int, platform: str = "woocommerce") -> dict[str, Any]:
        """A copy of one product (or WooCommerce variation) as held now, e.g. to check a stock write."""
        with self._lock:
            found = self._store(platform)["products"].get(product_id)
            if found is None and platform == "woocommerce":
                found = self._woo["variations"].get(product_id)
            if found is None:
                raise KeyError(f"no {platform} product {product_id}")
            return found

    def _store(self, platform: str) -> dict[str, _Collection]:
        if platform == "woocommerce":
            return self._woo
        if platform == "shopify":
            return self._shopify
        raise ValueError(f"platform must be 'woocommerce' or 'shopify', not {platform!r}")

    # -- faults ---------------------------------------------------------------------------------------

    def fail_next(self, n: int, status: int = 500, retry_after: float | str | None = None) -> None:
        """Answer the next ``n`` requests (any platform) with ``status`` (and ``Retry-After`` if given)."""
        with self._lock:
            self._faults.extend([(status, retry_after)] * n)

    def rate_limit_next(self, n: int, retry_after: float | str = 1.0) -> None:
        """Answer the next ``n`` requests with 429 Too Many Requests and this ``Retry-After`` (seconds, or
        an HTTP date string)."""
        self.fail_next(n, 429, retry_after)

    def delay_next(self, n: int, seconds: float) -> None:
        """Hold the next ``n`` requests ``seconds`` before answering (to provoke client timeouts)."""
        with self._lock:
            self._delays.extend([seconds] * n)

    def reset_bucket(self) -> None:
        """Empty the Shopify leaky bucket."""
        with self._lock:
            self._bucket_level, self._bucket_time = 0.0, self._clock()

    def requests_to(self, suffix: str, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests whose path ends with ``suffix`` (and method, when given)."""
        with self._lock:
            return [
                r for r in self.requests if r.path.endswith(suffix) and (method is None or r.method == method)
            ]

    # -- WSGI -----------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        with self._lock:
            delay = self.latency + (self._delays.popleft() if self._delays else 0.0)
        if delay:
            time.sleep(delay)
        headers: dict[str, str] = {}
        body_in = request.get_json(silent=True) if request.method == "POST" else None
        try:
            status, body = self._answer(request, headers)
        except _Reply as reply:
            status, body = reply.status, reply.body
            headers.update(reply.headers)
        if isinstance(body, _Raw):
            payload = body.data
        else:
            payload = json.dumps(body, separators=(",", ":"), default=_json_default).encode()
        with self._lock:
            params = dict(request.args.items())
            self.requests.append(RecordedRequest(request.method, request.path, params, status, body_in))
        response = Response(
            payload, status=status, headers=headers, content_type="application/json; charset=UTF-8"
        )
        return response(environ, start_response)

    def _answer(self, request: Request, headers: dict[str, str]) -> tuple[int, Any]:
        shopify = request.path.startswith("/admin/")
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
        if fault:
            raise self._fault(fault, shopify, headers)
        adapter = self._urls.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except NotFound:
            if shopify:
                raise _shopify_error(404, "Not Found") from None
            raise _woo_error(
                404, "rest_no_route", "No route was found matching the URL and request method."
            ) from None
        except HTTPException as exc:
            raise _Reply(
                exc.code or 405, {"code": "rest_no_route", "message": str(exc.description)}
            ) from None
        if endpoint == "wp_index":
            return 200, {
                "name": self.shop_name,
                "description": "A storefront double",
                "url": request.host_url,
                "home": request.host_url,
                # The WordPress REST index also carries the site's zone (WP REST API handbook, "Index").
                "gmt_offset": -5,
                "timezone_string": "America/New_York",
                "namespaces": ["wp/v2", "wc/v3"],
            }
        if shopify:
            self._check_token(request)
            self._take_from_bucket(headers)
        else:
            self._check_woo_key(request)
        handler = getattr(self, f"_{endpoint}")
        with self._lock:
            return handler(request, headers, **args)

    def _fault(self, fault: tuple[int, float | str | None], shopify: bool, headers: dict[str, str]) -> _Reply:
        status, retry_after = fault
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        if status == 429:
            with self._lock:
                self.rate_limited.append(float(retry_after) if _is_number(retry_after) else -1.0)
            if shopify:
                headers["X-Shopify-Shop-Api-Call-Limit"] = f"{self.bucket_size}/{self.bucket_size}"
                return _shopify_error(429, _THROTTLED)
            return _woo_error(429, "too_many_requests", "Too many requests; slow down.")
        if shopify:
            return _shopify_error(status, "Internal Server Error")
        return _woo_error(status, "internal_server_error", "There has been a critical error on this website.")

    # -- WooCommerce ----------------------------------------------------------------------------------

    def _check_woo_key(self, request: Request) -> None:
        auth = request.authorization
        basic = auth is not None and auth.type == "basic"
        key = auth.username if basic else request.args.get("consumer_key")
        secret = auth.password if basic else request.args.get("consumer_secret")
        if not key:
            raise _woo_error(401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        if key != self.consumer_key:
            raise _woo_error(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
        if secret != self.consumer_secret:
            raise _woo_error(401, "woocommerce_rest_authentication_error", "Consumer secret is invalid.")
        if self.woo_read_only and request.method != "GET":
            raise _woo_error(
                401, "woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."
            )

    def _woo_page(
        self,
        request: Request,
        headers: dict[str, str],
        collection: _Collection,
        entries: list[dict[str, Any]],
    ) -> tuple[int, Any]:
        per_page = _int_arg(request, "per_page", 10)
        page = _int_arg(request, "page", 1)
        if per_page is None or not 1 <= per_page <= WOO_MAX_PER_PAGE:
            raise _woo_error(
                400,
                "rest_invalid_param",
                "Invalid parameter(s): per_page",
                params={"per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"},
            )
        if page is None or page < 1:
            raise _woo_error(
                400,
                "rest_invalid_param",
                "Invalid parameter(s): page",
                params={"page": "page must be greater than or equal to 1"},
            )
        total = len(entries)
        total_pages = math.ceil(total / per_page)
        if total and page > total_pages:
            raise _woo_error(
                400,
                "rest_post_invalid_page_number",
                "The page number requested is larger than the number of pages available.",
            )
        headers["X-WP-Total"] = str(total)
        headers["X-WP-TotalPages"] = str(total_pages)
        links = []
        if page > 1:
            links.append(f'<{_url_with(request, page=page - 1)}>; rel="prev"')
        if page < total_pages:
            links.append(f'<{_url_with(request, page=page + 1)}>; rel="next"')
        if links:
            headers["Link"] = ", ".join(links)
        return 200, collection.body(entries[(page - 1) * per_page : page * per_page])

    def _woo_orders(self, request: Request, headers: dict[str, str], api: str) -> tuple[int, Any]:
        args = request.args
        gmt = args.get("dates_are_gmt") == "true"
        created, modified = (
            ("date_created_gmt", "date_modified_gmt") if gmt else ("date_created", "date_modified")
        )
        statuses = _woo_list_arg(args.get("status")) or ["any"]
        include = {int(i) for i in _woo_list_arg(args.get("include")) if i.isdigit()}
        bounds = [
            (created, ">", _woo_time(args.get("after"), "after")),
            (created, "<", _woo_time(args.get("before"), "before")),
            (modified, ">", _woo_time(args.get("modified_after"), "modified_after")),
            (modified, "<", _woo_time(args.get("modified_before"), "modified_before")),
        ]
        bounds = [b for b in bounds if b[2] is not None]

        def build(everything: list[dict[str, Any]]) -> list[dict[str, Any]]:
            out = [
                o
                for o in everything
                if ("any" in statuses or o.get("status") in statuses)
                and (not include or o["id"] in include)
                and all(_compare(o.get(field) or "", op, bound) for field, op, bound in bounds)
            ]
            return _woo_sort(out, args, "date")

        orders = self._woo["orders"]
        return self._woo_page(request, headers, orders, orders.view(_view_key("orders", args), build)[0])

    def _woo_order(
        self, request: Request, headers: dict[str, str], api: str, order_id: int
    ) -> tuple[int, Any]:
        if order_id not in self._woo["orders"]:
            raise _woo_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return 200, _Raw(self._woo["orders"].raw[order_id])

    def _woo_refunds(
        self, request: Request, headers: dict[str, str], api: str, order_id: int
    ) -> tuple[int, Any]:
        order = self._woo["orders"].get(order_id)
        if order is None:
            raise _woo_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        refunds = _Collection()
        for refund in self._woo_refund_records.get(order_id) or _refunds_from_summary(order):
            refunds.put(refund)
        entries, _ids = refunds.view("all", lambda everything: _woo_sort(everything, request.args, "date"))
        return self._woo_page(request, headers, refunds, entries)

    def _woo_customers(self, request: Request, headers: dict[str, str], api: str) -> tuple[int, Any]:
        args = request.args
        role, email = args.get("role", "customer"), args.get("email")

        def build(everything: list[dict[str, Any]]) -> list[dict[str, Any]]:
            out = [
                c
                for c in everything
                if (role == "all" or c.get("role", "customer") == role)
                and (not email or c.get("email") == email)
            ]
            return _woo_sort(out, args, "name", default_order="asc")

        customers = self._woo["customers"]
        return self._woo_page(
            request, headers, customers, customers.view(_view_key("customers", args), build)[0]
        )

    def _woo_products(self, request: Request, headers: dict[str, str], api: str) -> tuple[int, Any]:
        args = request.args
        sku, kind = args.get("sku"), args.get("type")
        field = "date_modified_gmt" if args.get("dates_are_gmt") == "true" else "date_modified"
        modified_after = _woo_time(args.get("modified_after"), "modified_after")

        def build(everything: list[dict[str, Any]]) -> list[dict[str, Any]]:
            out = [
                p
                for p in everything
                if (not sku or p.get("sku") == sku)
                and (not kind or p.get("type") == kind)
                and (modified_after is None or (p.get(field) or "") > modified_after)
            ]
            return _woo_sort(out, args, "date")

        products = self._woo["products"]
        return self._woo_page(
            request, headers, products, products.view(_view_key("products", args), build)[0]
        )

    def _woo_variations(
        self, request: Request, headers: dict[str, str], api: str, product_id: int
    ) -> tuple[int, Any]:
        if product_id not in self._woo["products"]:
            raise _woo_error(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        args = request.args
        sku = args.get("sku")

        def build(everything: list[dict[str, Any]]) -> list[dict[str, Any]]:
            out = [
                v for v in everything if v.get("parent_id") == product_id and (not sku or v.get("sku") == sku)
            ]
            return _woo_sort(out, args, "date")

        variations = self._woo["variations"]
        key = _view_key(f"variations of {product_id}", args)
        return self._woo_page(request, headers, variations, variations.view(key, build)[0])

    def _woo_products_batch(self, request: Request, headers: dict[str, str], api: str) -> tuple[int, Any]:
        return self._woo_batch(request, None)

    def _woo_variations_batch(
        self, request: Request, headers: dict[str, str], api: str, product_id: int
    ) -> tuple[int, Any]:
        if product_id not in self._woo["products"]:
            raise _woo_error(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        return self._woo_batch(request, product_id)

    def _woo_batch(self, request: Request, parent_id: int | None) -> tuple[int, Any]:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise _woo_error(400, "rest_invalid_json", "Invalid JSON body passed.")
        if sum(len(body.get(k) or []) for k in ("create", "update", "delete")) > WOO_MAX_BATCH:
            raise _woo_error(
                413,
                "woocommerce_rest_request_entity_too_large",
                f"Unable to accept more than {WOO_MAX_BATCH} items for this request.",
            )
        collection = self._woo["variations"] if parent_id else self._woo["products"]
        invalid = (
            "woocommerce_rest_product_variation_invalid_id"
            if parent_id
            else "woocommerce_rest_product_invalid_id"
        )
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        answered = []
        for item in body.get("update") or []:
            item_id = item.get("id") if isinstance(item, dict) else None
            entry = collection.index.get(item_id) if isinstance(item_id, int) else None
            if entry is None or (parent_id and entry.get("parent_id") != parent_id):
                answered.append(
                    {
                        "id": item_id,
                        "error": {"code": invalid, "message": "Invalid ID.", "data": {"status": 400}},
                    }
                )
                continue
            quantity = item.get("stock_quantity")
            if "stock_quantity" in item and (isinstance(quantity, bool) or not isinstance(quantity, int)):
                answered.append(
                    {
                        "id": item_id,
                        "error": {
                            "code": "rest_invalid_param",
                            "message": "Invalid parameter(s): stock_quantity",
                            "data": {"status": 400},
                        },
                    }
                )
                continue

            def edit(record: dict[str, Any], item: dict[str, Any] = item) -> None:
                if "manage_stock" in item:
                    record["manage_stock"] = bool(item["manage_stock"])
                if "stock_quantity" in item and record.get("manage_stock"):
                    record["stock_quantity"] = item["stock_quantity"]
                    record["stock_status"] = "instock" if item["stock_quantity"] > 0 else "outofstock"
                record["date_modified_gmt"] = now.isoformat()
                record["date_modified"] = (now + _WOO_SITE_OFFSET).isoformat()

            answered.append(collection.change(item_id, edit))
            if "stock_quantity" in item:
                self.stock_writes.append(
                    {
                        "platform": "woocommerce",
                        "product_id": parent_id or item_id,
                        "variation_id": item_id if parent_id else None,
                        "quantity": quantity,
                    }
                )
        return 200, {"create": [], "update": answered, "delete": []}

    # -- Shopify --------------------------------------------------------------------------------------

    def _check_token(self, request: Request) -> None:
        if request.headers.get("X-Shopify-Access-Token") != self.access_token:
            raise _shopify_error(
                401, "[API] Invalid API key or access token (unrecognized login or wrong password)"
            )

    def _need_scope(self, scope: str) -> None:
        if scope not in self.shopify_scopes:
            raise _shopify_error(403, f"[API] This action requires merchant approval for {scope} scope.")

    def _take_from_bucket(self, headers: dict[str, str]) -> None:
        """Shopify's leaky bucket: each request adds one, ``leak_rate`` drain per second."""
        with self._lock:
            now = self._clock()
            self._bucket_level = max(0.0, self._bucket_level - (now - self._bucket_time) * self.leak_rate)
            self._bucket_time = now
            if self._bucket_level + 1 > self.bucket_size:
                wait = math.ceil((self._bucket_level + 1 - self.bucket_size) / self.leak_rate * 1000) / 1000
                self.rate_limited.append(wait)
                headers["X-Shopify-Shop-Api-Call-Limit"] = f"{self.bucket_size}/{self.bucket_size}"
                raise _Reply(429, {"errors": _THROTTLED}, {"Retry-After": f"{wait}"})
            self._bucket_level += 1
            headers["X-Shopify-Shop-Api-Call-Limit"] = f"{math.ceil(self._bucket_level)}/{self.bucket_size}"

    def _shopify_page(
        self,
        request: Request,
        headers: dict[str, str],
        name: str,
        allowed: tuple[str, ...],
        matcher: Callable[[dict[str, str]], Callable[[dict[str, Any]], bool]],
    ) -> tuple[int, Any]:
        args = request.args
        limit = _int_arg(request, "limit", 50)
        if limit is None or not 1 <= limit <= SHOPIFY_MAX_LIMIT:
            raise _shopify_error(400, {"limit": [f"must be between 1 and {SHOPIFY_MAX_LIMIT}"]})
        cursor = args.get("page_info")
        if cursor:
            extra = [k for k in args if k not in ("page_info", "limit", "fields")]
            if extra:
                raise _shopify_error(
                    400, f"{extra[0]} cannot be passed when page_info is present. {_PAGING_DOC}"
                )
            filters, direction, edge = _read_cursor(cursor)
        else:
            filters, direction, edge = {k: v for k, v in args.items() if k in allowed}, "next", 0
        predicate = matcher(filters)
        collection = self._shopify[name]
        entries, ids = collection.view(
            (name, tuple(sorted(filters.items()))), lambda everything: [e for e in everything if predicate(e)]
        )
        if direction == "next":
            begin = bisect.bisect_right(ids, edge) if cursor else 0
        else:
            begin = max(0, bisect.bisect_left(ids, edge) - limit)
        chunk = entries[begin : begin + limit]
        links = []
        if chunk and begin > 0:
            previous = _cursor(filters, "prev", chunk[0]["id"])
            links.append(
                f'<{_url_with(request, limit=limit, page_info=previous, only=True)}>; rel="previous"'
            )
        if chunk and begin + limit < len(entries):
            following = _cursor(filters, "next", chunk[-1]["id"])
            links.append(f'<{_url_with(request, limit=limit, page_info=following, only=True)}>; rel="next"')
        if links:
            headers["Link"] = ", ".join(links)
        fields = [f for f in (args.get("fields") or "").split(",") if f]
        if fields:
            records = [collection.get(e["id"]) or {} for e in chunk]
            return 200, {name: [{k: r[k] for k in fields if k in r} for r in records]}
        return 200, collection.body(chunk, wrap=name)

    def _order_matcher(self, filters: dict[str, str]) -> Callable[[dict[str, Any]], bool]:
        status = filters.get("status", "open")
        if status not in ("open", "closed", "cancelled", "any"):
            raise _shopify_error(400, {"status": ["is not included in the list"]})
        financial = filters.get("financial_status")
        fulfillment = filters.get("fulfillment_status")
        ids = _shopify_ids(filters.get("ids"))
        created_min = _shopify_time(filters.get("created_at_min"), "created_at_min")
        created_max = _shopify_time(filters.get("created_at_max"), "created_at_max")
        updated_min = _shopify_time(filters.get("updated_at_min"), "updated_at_min")
        updated_max = _shopify_time(filters.get("updated_at_max"), "updated_at_max")

        def matches(order: dict[str, Any]) -> bool:
            if status == "open" and (order.get("closed_at") or order.get("cancelled_at")):
                return False
            if (status == "closed" and not order.get("closed_at")) or (
                status == "cancelled" and not order.get("cancelled_at")
            ):
                return False
            if financial and financial != "any" and order.get("financial_status") != financial:
                return False
            if fulfillment == "shipped" and order.get("fulfillment_status") != "fulfilled":
                return False
            if fulfillment == "unshipped" and order.get("fulfillment_status") is not None:
                return False
            if ids and order["id"] not in ids:
                return False
            created, updated = order.get("_created", 0.0), order.get("_updated", 0.0)
            return (
                (created_min is None or created >= created_min)
                and (created_max is None or created <= created_max)
                and (updated_min is None or updated >= updated_min)
                and (updated_max is None or updated <= updated_max)
            )

        return matches

    def _updated_matcher(self, filters: dict[str, str]) -> Callable[[dict[str, Any]], bool]:
        updated_min = _shopify_time(filters.get("updated_at_min"), "updated_at_min")
        ids = _shopify_ids(filters.get("ids"))
        return lambda record: (
            (updated_min is None or record.get("_updated", 0.0) >= updated_min)
            and (not ids or record["id"] in ids)
        )

    def _shopify_orders(self, request: Request, headers: dict[str, str], version: str) -> tuple[int, Any]:
        self._need_scope("read_orders")
        allowed = (
            "status",
            "financial_status",
            "fulfillment_status",
            "ids",
            "created_at_min",
            "created_at_max",
            "updated_at_min",
            "updated_at_max",
        )
        return self._shopify_page(request, headers, "orders", allowed, self._order_matcher)

    def _shopify_orders_count(
        self, request: Request, headers: dict[str, str], version: str
    ) -> tuple[int, Any]:
        self._need_scope("read_orders")
        filters = dict(request.args.items())
        predicate = self._order_matcher(filters)
        entries, _ids = self._shopify["orders"].view(
            ("orders", tuple(sorted(filters.items()))),
            lambda everything: [e for e in everything if predicate(e)],
        )
        return 200, {"count": len(entries)}

    def _shopify_order(
        self, request: Request, headers: dict[str, str], version: str, order_id: int
    ) -> tuple[int, Any]:
        self._need_scope("read_orders")
        raw = self._shopify["orders"].raw.get(order_id)
        if raw is None:
            raise _shopify_error(404, "Not Found")
        return 200, _Raw(b'{"order":' + raw + b"}")

    def _shopify_transactions(
        self, request: Request, headers: dict[str, str], version: str, order_id: int
    ) -> tuple[int, Any]:
        """Shopify answers the whole list at once (the endpoint takes since_id, fields and in_shop_currency,
        no page_info: shopify.dev REST Admin "Transaction")."""
        self._need_scope("read_orders")
        order = self._shopify["orders"].get(order_id)
        if order is None:
            raise _shopify_error(404, "Not Found")
        found = self._order_transactions.get(order_id)
        if found is None:
            gateways = order.get("payment_gateway_names") or ["manual"]
            found = [{"id": order_id * 10 + 1, "order_id": order_id, "kind": "sale", "status": "success",
                      "gateway": gateways[0], "amount": str(order.get("total_price", "0")),
                      "currency": order.get("currency")}]
        return 200, {"transactions": found}

    def _shopify_customers(self, request: Request, headers: dict[str, str], version: str) -> tuple[int, Any]:
        self._need_scope("read_customers")
        return self._shopify_page(
            request, headers, "customers", ("updated_at_min", "ids"), self._updated_matcher
        )

    def _shopify_products(self, request: Request, headers: dict[str, str], version: str) -> tuple[int, Any]:
        self._need_scope("read_products")
        return self._shopify_page(
            request, headers, "products", ("updated_at_min", "ids"), self._updated_matcher
        )

    def _shopify_locations(self, request: Request, headers: dict[str, str], version: str) -> tuple[int, Any]:
        self._need_scope("read_locations")
        return 200, {"locations": self.locations}

    def _shopify_shop(self, request: Request, headers: dict[str, str], version: str) -> tuple[int, Any]:
        return 200, {
            "shop": {
                "id": 548380009,
                "name": self.shop_name,
                "email": "owner@example.com",
                "domain": request.host,
                "myshopify_domain": "double-shop.myshopify.com",
                "primary_location_id": self.primary_location_id,
                "currency": "USD",
                "iana_timezone": "America/New_York",
                "plan_name": "basic",
                "taxes_included": False,
            }
        }

    def _shopify_inventory_set(
        self, request: Request, headers: dict[str, str], version: str
    ) -> tuple[int, Any]:
        self._need_scope("write_inventory")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise _shopify_error(400, {"error": "Invalid JSON body"})
        missing = [k for k in ("location_id", "inventory_item_id", "available") if k not in body]
        if missing:
            raise _shopify_error(400, {k: "Required parameter missing or invalid" for k in missing})
        item, location, available = body["inventory_item_id"], body["location_id"], body["available"]
        if isinstance(available, bool) or not isinstance(available, int):
            raise _shopify_error(422, {"available": ["must be an integer"]})
        if location not in {loc["id"] for loc in self.locations}:
            raise _shopify_error(422, ["Location not found"])
        product_id = self._inventory_items.get(item)
        if product_id is None:
            raise _shopify_error(422, ["Inventory item not found"])
        product = self._shopify["products"].get(product_id) or {}
        variant = next(v for v in product.get("variants", []) if v.get("inventory_item_id") == item)
        if variant.get("inventory_management") != "shopify":
            raise _shopify_error(422, ["Inventory item does not have inventory tracking enabled"])
        self.inventory_levels[(item, location)] = available
        on_hand = sum(q for (i, _loc), q in self.inventory_levels.items() if i == item)

        def edit(record: dict[str, Any]) -> None:
            for v in record.get("variants", []):
                if v.get("inventory_item_id") == item:
                    v["old_inventory_quantity"], v["inventory_quantity"] = (
                        v.get("inventory_quantity"),
                        on_hand,
                    )

        self._shopify["products"].change(product_id, edit)
        self.stock_writes.append(
            {"platform": "shopify", "inventory_item_id": item, "location_id": location, "quantity": available}
        )
        updated = datetime.now(UTC).replace(microsecond=0).isoformat()
        return 200, {
            "inventory_level": {
                "inventory_item_id": item,
                "location_id": location,
                "available": available,
                "updated_at": updated,
                "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{location}?inventory_item_id={item}",
            }
        }


def _guess_platform(order: Mapping[str, Any]) -> str:
    return "shopify" if "financial_status" in order or "order_number" in order else "woocommerce"


def _refunds_from_summary(order: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Full refund records made up from an order's ``refunds`` summaries ({id, reason, total})."""
    return [
        {
            "id": r["id"],
            "date_created": order.get("date_modified"),
            "date_created_gmt": order.get("date_modified_gmt"),
            "amount": str(r.get("total", "0")).lstrip("-"),
            "reason": r.get("reason", r.get("refund", "")),
            "refunded_by": 1,
            "refunded_payment": False,
            "meta_data": [],
            "line_items": [],
        }
        for r in order.get("refunds") or []
        if isinstance(r, dict) and isinstance(r.get("id"), int)
    ]


def _view_key(name: str, args: Mapping[str, str]) -> tuple[Any, ...]:
    return name, tuple(sorted((k, v) for k, v in args.items() if k not in ("page", "per_page")))


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _epoch(value: Any) -> float:
    moment = datetime.fromisoformat(str(value))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _int_arg(request: Request, name: str, default: int) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        return None


def _woo_list_arg(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def _woo_time(raw: str | None, name: str) -> str | None:
    """A date filter as WooCommerce's stored ``YYYY-MM-DDTHH:MM:SS`` text (compared as text)."""
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise _woo_error(
            400, "rest_invalid_param", f"Invalid parameter(s): {name}", params={name: "Invalid date."}
        ) from None
    if moment.tzinfo:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds")


def _shopify_time(raw: str | None, name: str) -> float | None:
    if raw is None:
        return None
    try:
        return _epoch(raw)
    except ValueError:
        raise _shopify_error(400, {name: ["is invalid"]}) from None


def _shopify_ids(raw: str | None) -> set[int]:
    return {int(i) for i in (raw or "").split(",") if i.strip().isdigit()}


def _compare(value: str, op: str, bound: str) -> bool:
    return value > bound if op == ">" else value < bound


def _woo_sort(
    records: list[dict[str, Any]], args: Mapping[str, str], default_by: str, default_order: str = "desc"
) -> list[dict[str, Any]]:
    by = args.get("orderby") or default_by
    descending = (args.get("order") or default_order) == "desc"
    if by in ("id", "include"):
        return sorted(records, key=lambda r: r["id"], reverse=descending)
    if by == "name":
        return sorted(
            records,
            key=lambda r: (str(r.get("last_name") or r.get("name") or ""), r["id"]),
            reverse=descending,
        )
    if by in ("date", "registered_date"):
        return sorted(records, key=lambda r: (r.get("date_created_gmt") or "", r["id"]), reverse=descending)
    raise _woo_error(
        400,
        "rest_invalid_param",
        "Invalid parameter(s): orderby",
        params={"orderby": "orderby is not one of date, id, include, title, slug, name."},
    )


def _cursor(filters: dict[str, str], direction: str, edge: int) -> str:
    """An opaque page_info: the first request's filters, the direction and the id at the page edge."""
    state = json.dumps({"f": sorted(filters.items()), "d": direction, "e": edge}, separators=(",", ":"))
    return base64.urlsafe_b64encode(state.encode()).decode().rstrip("=")


def _read_cursor(cursor: str) -> tuple[dict[str, str], str, int]:
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)))
        filters, direction, edge = dict(state["f"]), state["d"], int(state["e"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise _shopify_error(400, {"page_info": ["Invalid value."]}) from None
    if direction not in ("next", "prev"):
        raise _shopify_error(400, {"page_info": ["Invalid value."]})
    return filters, direction, edge


def _url_with(request: Request, *, only: bool = False, **params: Any) -> str:
    """This request's URL with ``params`` replaced (``only``: with nothing but ``params``)."""
    query = {} if only else dict(request.args.items())
    query.update({k: str(v) for k, v in params.items()})
    return f"{request.base_url}?{urlencode(query)}"
