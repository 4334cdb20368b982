"""ShopifyClient against the storefront double over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from qbsync.simulator.storefront import StorefrontDouble, make_orders, make_products
from qbsync.storefronts.http import (
    RetryPolicy,
    StorefrontAuthError,
    StorefrontError,
    StorefrontNotFound,
    StorefrontSetupError,
    StorefrontUnavailable,
)
from qbsync.storefronts.shopify.client import ShopifyClient

FAST = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.01)


class SleepRecorder:
    """Stands in for time.sleep: remembers every wait without waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def double() -> Iterator[StorefrontDouble]:
    # A generous bucket so only the rate-limit tests meet it.
    with StorefrontDouble(bucket_size=1_000, leak_rate=1_000) as running:
        yield running


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


def _client(double: StorefrontDouble, sleep: SleepRecorder, **options) -> ShopifyClient:
    options = {"retry": FAST, "timeout": 5, **options}
    return ShopifyClient(double.base_url, double.access_token, allow_http=True, sleep=sleep, **options)


@pytest.fixture
def shop(double: StorefrontDouble, sleeps: SleepRecorder) -> Iterator[ShopifyClient]:
    with _client(double, sleeps) as client:
        yield client


def _order_requests(double: StorefrontDouble) -> list:
    return double.requests_to("/orders.json", "GET")


def test_link_header_cursors_reach_every_order_once(double: StorefrontDouble, shop: ShopifyClient) -> None:
    orders = make_orders(600, "shopify")
    double.add_orders(orders)

    listing = shop.iter_orders(limit=250)
    ids = [o["id"] for o in listing]

    assert sorted(ids) == [o["id"] for o in orders] and len(set(ids)) == 600
    assert max(ids) > 2**53  # ids beyond the float-safe range come through intact
    first, *later = _order_requests(double)
    assert first.params == {"limit": "250", "status": "any"}
    assert len(later) == 2 and all(set(r.params) == {"limit", "page_info"} for r in later)
    assert listing.finished


def test_updated_and_created_filters_and_count(double: StorefrontDouble, shop: ShopifyClient) -> None:
    orders = make_orders(400, "shopify", seed=5)
    double.add_orders(orders)
    since = datetime(2025, 2, 1)
    created_from, created_to = datetime(2024, 3, 1), datetime(2025, 9, 1)

    def utc(moment: datetime) -> datetime:
        return moment.replace(tzinfo=UTC)

    expected_updated = {o["id"] for o in orders if datetime.fromisoformat(o["updated_at"]) >= utc(since)}
    expected_created = {
        o["id"]
        for o in orders
        if utc(created_from) <= datetime.fromisoformat(o["created_at"]) <= utc(created_to)
    }
    assert 0 < len(expected_updated) < 400 and 0 < len(expected_created) < 400

    assert {o["id"] for o in shop.iter_orders(updated_at_min=since, limit=100)} == expected_updated
    assert shop.count_orders(updated_at_min=since) == len(expected_updated)
    assert {
        o["id"] for o in shop.iter_orders(created_at_min=created_from, created_at_max=created_to)
    } == expected_created
    assert _order_requests(double)[0].params["updated_at_min"] == "2025-02-01T00:00:00+00:00"


def test_status_any_includes_cancelled_and_closed_orders(
    double: StorefrontDouble, shop: ShopifyClient
) -> None:
    orders = make_orders(300, "shopify", seed=2)
    double.add_orders(orders)
    open_ids = {o["id"] for o in orders if not o["closed_at"] and not o["cancelled_at"]}
    assert len(open_ids) < 300

    assert len(list(shop.iter_orders())) == 300
    assert {o["id"] for o in shop.iter_orders(status="open")} == open_ids
    paid = {o["id"] for o in orders if o["financial_status"] == "paid"}
    assert shop.count_orders(financial_status="paid") == len(paid)
    picked = [orders[3]["id"], orders[200]["id"]]
    assert [o["id"] for o in shop.iter_orders(ids=picked)] == picked


def test_resume_from_a_saved_cursor_sends_no_filters(
    double: StorefrontDouble, shop: ShopifyClient, sleeps: SleepRecorder
) -> None:
    orders = make_orders(600, "shopify")
    double.add_orders(orders)
    seen: list[int] = []
    first = shop.iter_orders(limit=250, updated_at_min=datetime(2020, 1, 1))
    for order in first:
        seen.append(order["id"])
        if len(seen) == 300:
            break
    saved = first.cursor
    assert isinstance(saved, str) and not first.finished

    with _client(double, sleeps) as restarted:
        # The filters given again are ignored: the cursor carries those of the first request.
        again = restarted.iter_orders(limit=250, page_info=saved, updated_at_min=datetime(2099, 1, 1))
        seen.extend(o["id"] for o in again)

    assert set(seen) == {o["id"] for o in orders} and len(seen) == 300 + 250 + 100  # page 2 is read again
    resumed = _order_requests(double)[-2:]
    assert all(set(r.params) == {"limit", "page_info"} for r in resumed)


def test_page_info_with_filters_is_what_shopify_rejects(
    double: StorefrontDouble, shop: ShopifyClient
) -> None:
    """The double holds the client to Shopify's rule, so the tests above would catch a repeated filter."""
    import httpx

    double.add_orders(make_orders(60, "shopify"))
    pages = list(shop.iter_orders(limit=50).pages())
    cursor = pages[0].next_cursor

    answer = httpx.get(
        f"{double.base_url}/admin/api/2026-07/orders.json",
        params={"page_info": cursor, "status": "any"},
        headers={"X-Shopify-Access-Token": double.access_token},
    )

    assert answer.status_code == 400
    assert "status cannot be passed when page_info is present" in answer.json()["errors"]


class FakeTime:
    """One clock for the double's bucket and the client: time passes only when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def test_429_is_retried_after_the_buckets_retry_after() -> None:
    fake = FakeTime()
    with StorefrontDouble(bucket_size=3, leak_rate=2, clock=fake.clock) as double:
        orders = make_orders(200, "shopify")
        double.add_orders(orders)
        # No pacing, so the client meets the bucket: 3 requests fit, then one drains every 0.5 s.
        with _client(double, fake.sleep, slow_down_at=None, clock=fake.clock) as client:
            ids = [o["id"] for o in client.iter_orders(limit=10)]

    assert sorted(ids) == [o["id"] for o in orders]
    statuses = [r.status for r in _order_requests(double)]
    assert statuses[:4] == [200, 200, 200, 429] and statuses.count(200) == 20
    assert double.rate_limited == [0.5] * statuses.count(429)
    assert len(fake.waits) == statuses.count(429) and min(fake.waits) >= 0.5  # each Retry-After honoured


def test_pacing_by_the_call_limit_header_avoids_429() -> None:
    fake = FakeTime()
    with StorefrontDouble(bucket_size=6, leak_rate=2, clock=fake.clock) as double:
        double.add_orders(make_orders(150, "shopify"))
        with _client(double, fake.sleep, leak_rate=2, slow_down_at=0.5, clock=fake.clock) as client:
            ids = [o["id"] for o in client.iter_orders(limit=10)]
            bucket = client.bucket

    assert len(set(ids)) == 150
    assert double.rate_limited == [] and {r.status for r in _order_requests(double)} == {200}
    assert fake.waits, "the client should have slowed down near a full bucket"
    assert bucket is not None and bucket[1] == 6 and bucket[0] <= 3


def test_forced_429_and_5xx_are_retried(
    double: StorefrontDouble, shop: ShopifyClient, sleeps: SleepRecorder
) -> None:
    double.add_orders(make_orders(30, "shopify"))
    double.rate_limit_next(1, retry_after="2.0")
    double.fail_next(1, 502)

    assert len(list(shop.iter_orders())) == 30
    assert sleeps.waits[0] >= 2.0 and len(sleeps.waits) == 2
    assert [r.status for r in _order_requests(double)] == [429, 502, 200]


def test_persistent_server_errors_raise_unavailable(double: StorefrontDouble, shop: ShopifyClient) -> None:
    double.fail_next(50, 503)

    with pytest.raises(StorefrontUnavailable, match="HTTP 503"):
        shop.get_order(1)


def test_inventory_set_at_the_primary_location(double: StorefrontDouble, shop: ShopifyClient) -> None:
    products = make_products("shopify")
    double.add_products(products, "shopify")
    variant = products[3]["variants"][1]

    level = shop.set_inventory(variant["inventory_item_id"], Decimal("17"))

    assert level["available"] == 17 and level["location_id"] == 655441491
    assert double.requests_to("/inventory_levels/set.json")[-1].body == {
        "location_id": 655441491,
        "inventory_item_id": variant["inventory_item_id"],
        "available": 17,
    }
    assert double.stock_writes == [
        {
            "platform": "shopify",
            "inventory_item_id": variant["inventory_item_id"],
            "location_id": 655441491,
            "quantity": 17,
        }
    ]
    stored = double.product(products[3]["id"], "shopify")["variants"][1]
    assert stored["inventory_quantity"] == 17

    shop.set_inventory(variant["inventory_item_id"], 5)  # the location is looked up only once
    assert len(double.requests_to("/locations.json")) == 1


def test_inventory_set_at_a_configured_location(sleeps: SleepRecorder) -> None:
    locations = [
        {"id": 11, "name": "Shop floor", "active": True},
        {"id": 22, "name": "Warehouse", "active": True},
    ]
    with StorefrontDouble(locations=locations) as double:
        products = make_products("shopify")
        double.add_products(products, "shopify")
        item = products[0]["variants"][0]["inventory_item_id"]
        with _client(double, sleeps, location_id=22) as client:
            assert client.set_inventory(item, 4)["location_id"] == 22
            assert client.set_inventory(item, 6, location_id=11)["location_id"] == 11
        assert double.requests_to("/locations.json") == []
        assert double.product(products[0]["id"], "shopify")["variants"][0]["inventory_quantity"] == 10


def test_no_single_location_asks_the_merchant_to_choose(sleeps: SleepRecorder) -> None:
    locations = [
        {"id": 11, "name": "Shop floor", "active": True},
        {"id": 22, "name": "Warehouse", "active": True},
    ]
    with StorefrontDouble(locations=locations) as double:
        double.primary_location_id = None
        with _client(double, sleeps) as client, pytest.raises(StorefrontSetupError, match="Warehouse"):
            client.set_inventory(1, 4)


def test_inventory_errors_carry_shopifys_reason(double: StorefrontDouble, shop: ShopifyClient) -> None:
    products = make_products("shopify")
    products[0]["variants"][0]["inventory_management"] = None
    double.add_products(products, "shopify")

    with pytest.raises(StorefrontError, match="does not have inventory tracking enabled") as caught:
        shop.set_inventory(products[0]["variants"][0]["inventory_item_id"], 3)
    assert caught.value.status == 422
    with pytest.raises(ValueError, match="whole number"):
        shop.set_inventory(products[1]["variants"][0]["inventory_item_id"], Decimal("1.5"))


def test_missing_scope_is_an_auth_error_naming_the_scopes(
    double: StorefrontDouble, shop: ShopifyClient
) -> None:
    products = make_products("shopify")
    double.add_products(products, "shopify")
    double.shopify_scopes.discard("write_inventory")

    with pytest.raises(StorefrontAuthError) as caught:
        shop.set_inventory(products[0]["variants"][0]["inventory_item_id"], 3)

    assert caught.value.status == 403 and "write_inventory" in str(caught.value)


def test_wrong_token_raises_auth_error_with_the_fix(double: StorefrontDouble, sleeps: SleepRecorder) -> None:
    client = ShopifyClient(double.base_url, "shpat_not_the_token", allow_http=True, retry=FAST, sleep=sleeps)

    with pytest.raises(StorefrontAuthError) as caught:
        client.check_credentials()

    message = str(caught.value)
    assert "Admin API access token" in message and "Develop apps" in message and double.base_url in message
    assert "shpat_not_the_token" not in message and len(double.requests) == 1


def test_check_credentials_get_order_and_catalogue(double: StorefrontDouble, shop: ShopifyClient) -> None:
    from qbsync.simulator.storefront import make_customers

    orders = make_orders(3, "shopify")
    double.add_orders(orders)
    double.add_products(make_products("shopify"), "shopify")
    double.add_customers(make_customers(7, "shopify"), "shopify")

    assert "Double Shop" in shop.check_credentials()
    fetched = shop.get_order(orders[1]["id"])
    assert (fetched["name"], fetched["total_price"]) == (orders[1]["name"], orders[1]["total_price"])
    with pytest.raises(StorefrontNotFound):
        shop.get_order(12345)
    assert len(list(shop.iter_customers(limit=3))) == 7
    variants = [v for p in shop.iter_products(limit=5) for v in p["variants"]]
    assert all(v["inventory_item_id"] != v["id"] for v in variants) and len(variants) > 20


def test_plain_http_refused_and_token_masked() -> None:
    with pytest.raises(StorefrontSetupError, match="https"):
        ShopifyClient("http://demo.myshopify.com", "shpat_secret")
    client = ShopifyClient("demo.myshopify.com", "shpat_secret_value")
    assert client.shop_url == "https://demo.myshopify.com"
    assert "shpat_secret_value" not in repr(client)
    with pytest.raises(ValueError, match="limit"):
        client.iter_orders(limit=251)
    with pytest.raises(ValueError, match="status"):
        client.iter_orders(status="everything")


def test_an_orders_transactions_are_read_in_one_request_in_shop_money(
    double: StorefrontDouble, shop: ShopifyClient
) -> None:
    mixed, single = make_orders(2, "shopify", seed=3)
    mixed["payment_gateway_names"] = ["gift_card", "shopify_payments"]
    double.add_orders([mixed, single])
    paid = [{"id": 1, "kind": "sale", "status": "success", "gateway": "gift_card", "amount": "5.00"},
            {"id": 2, "kind": "sale", "status": "success", "gateway": "shopify_payments", "amount": "6.62"}]
    double.add_transactions(mixed["id"], paid)

    assert [t["amount"] for t in shop.order_transactions(mixed["id"])] == ["5.00", "6.62"]
    (asked,) = double.requests_to(f"/orders/{mixed['id']}/transactions.json")
    assert asked.params == {"in_shop_currency": "true"}

    # Only the order paid through several gateways is read with its transactions.
    completed = shop.with_transactions([mixed, single])
    assert [t["gateway"] for t in completed[0]["transactions"]] == ["gift_card", "shopify_payments"]
    assert "transactions" not in completed[1]
    assert len(double.requests_to("/transactions.json")) == 2
