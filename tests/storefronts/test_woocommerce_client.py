"""WooCommerceClient against the storefront double over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from email.utils import format_datetime

import pytest

from qbsync.simulator.storefront import StorefrontDouble, make_orders, make_products
from qbsync.storefronts.http import (
    RetryPolicy,
    StorefrontAuthError,
    StorefrontNotFound,
    StorefrontRateLimited,
    StorefrontSetupError,
    StorefrontUnavailable,
)
from qbsync.storefronts.woocommerce.client import StockUpdate, WooCommerceClient

FAST = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.01)


class SleepRecorder:
    """Stands in for time.sleep: remembers every wait without waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def double() -> Iterator[StorefrontDouble]:
    with StorefrontDouble() as running:
        yield running


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def woo(double: StorefrontDouble, sleeps: SleepRecorder) -> Iterator[WooCommerceClient]:
    with WooCommerceClient(
        double.base_url,
        double.consumer_key,
        double.consumer_secret,
        allow_http=True,
        retry=FAST,
        sleep=sleeps,
        timeout=5,
    ) as client:
        yield client


def _order_requests(double: StorefrontDouble) -> list:
    return double.requests_to("/wc/v3/orders", "GET")


def test_pages_through_every_order_exactly_once(double: StorefrontDouble, woo: WooCommerceClient) -> None:
    orders = make_orders(250, "woocommerce")
    double.add_orders(orders)

    listing = woo.iter_orders(per_page=100)
    ids = [order["id"] for order in listing]

    assert sorted(ids) == sorted(o["id"] for o in orders) and len(ids) == len(set(ids)) == 250
    assert ids == sorted(ids)  # oldest first, so pages stay put while new orders arrive
    assert [r.params["page"] for r in _order_requests(double)] == ["1", "2", "3"]
    assert {r.params["per_page"] for r in _order_requests(double)} == {"100"}
    assert (listing.total, listing.total_pages, listing.finished) == (250, 3, True)


def test_modified_after_returns_only_orders_changed_since(
    double: StorefrontDouble, woo: WooCommerceClient
) -> None:
    orders = make_orders(300, "woocommerce", seed=7)
    double.add_orders(orders)
    # 2025-03-01 12:00 in UTC+02:00 is 10:00 UTC; WooCommerce gets it in GMT with dates_are_gmt.
    since = datetime(2025, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    expected = {o["id"] for o in orders if o["date_modified_gmt"] > "2025-03-01T10:00:00"}
    assert 0 < len(expected) < 300

    got = [o["id"] for o in woo.iter_orders(modified_after=since)]

    assert set(got) == expected and len(got) == len(expected)
    sent = _order_requests(double)[0].params
    assert sent["modified_after"] == "2025-03-01T10:00:00" and sent["dates_are_gmt"] == "true"
    assert woo.count_orders(modified_after=since) == len(expected)


def test_status_created_range_and_include_filters(double: StorefrontDouble, woo: WooCommerceClient) -> None:
    orders = make_orders(200, "woocommerce", seed=3)
    double.add_orders(orders)
    after, before = datetime(2024, 6, 1), datetime(2025, 6, 1)
    expected = {
        o["id"]
        for o in orders
        if o["status"] in ("completed", "refunded")
        and "2024-06-01T00:00:00" < o["date_created_gmt"] < "2025-06-01T00:00:00"
    }

    got = {o["id"] for o in woo.iter_orders(statuses=["completed", "refunded"], after=after, before=before)}
    assert got == expected
    assert woo.count_orders(statuses=["completed", "refunded"], after=after, before=before) == len(expected)

    wanted = [orders[5]["id"], orders[150]["id"]]
    assert [o["id"] for o in woo.iter_orders(include=wanted)] == wanted


def test_money_with_a_fraction_arrives_as_exact_decimal(
    double: StorefrontDouble, woo: WooCommerceClient
) -> None:
    order = make_orders(1, "woocommerce")[0]
    order["line_items"][0]["price"] = 10.8  # WooCommerce sends this one as a JSON number
    double.add_orders([order])

    fetched = woo.get_order(order["id"])

    assert fetched["line_items"][0]["price"] == Decimal("10.8")
    assert fetched["total"] == order["total"]  # strings stay strings


def test_resume_from_the_page_being_read_after_a_restart(
    double: StorefrontDouble, woo: WooCommerceClient
) -> None:
    orders = make_orders(250, "woocommerce")
    double.add_orders(orders)
    seen: list[int] = []

    first = woo.iter_orders(per_page=100)
    for order in first:
        seen.append(order["id"])
        if len(seen) == 150:  # the worker dies halfway through page 2
            break
    assert first.cursor == 2 and not first.finished

    again = woo.iter_orders(per_page=100, start_page=first.cursor)
    seen.extend(order["id"] for order in again)

    assert set(seen) == {o["id"] for o in orders}
    assert len(seen) == 300  # only the interrupted page was read twice
    assert again.finished


def test_pages_give_the_cursor_to_checkpoint(double: StorefrontDouble, woo: WooCommerceClient) -> None:
    double.add_orders(make_orders(120, "woocommerce"))

    pages = list(woo.iter_orders(per_page=50).pages())

    assert [(p.cursor, p.next_cursor, len(p.records)) for p in pages] == [
        (1, 2, 50),
        (2, 3, 50),
        (3, None, 20),
    ]


def test_resuming_past_the_last_page_ends_quietly(double: StorefrontDouble, woo: WooCommerceClient) -> None:
    double.add_orders(make_orders(30, "woocommerce"))  # one page of 100: page 4 no longer exists

    listing = woo.iter_orders(start_page=4)

    assert list(listing) == [] and listing.finished


def test_products_are_followed_by_their_variations(double: StorefrontDouble, woo: WooCommerceClient) -> None:
    catalogue = make_products("woocommerce")
    double.add_products(catalogue, "woocommerce")

    records = list(woo.iter_products(per_page=7))

    assert sorted(r["id"] for r in records) == sorted(p["id"] for p in catalogue)
    for index, record in enumerate(records):
        if record.get("type") == "variation":
            parent = next(r for r in reversed(records[:index]) if r.get("type") != "variation")
            assert record["parent_id"] == parent["id"] and parent["type"] == "variable"
            assert record["sku"]
    assert len(double.requests_to("/variations", "GET")) == sum(p["type"] == "variable" for p in catalogue)


def test_variations_of_a_sample_without_parent_id_get_it(
    double: StorefrontDouble, woo: WooCommerceClient, reference_dir
) -> None:
    import json

    folder = reference_dir / "storefront" / "woocommerce"
    variable = json.loads((folder / "product_variable.json").read_text())
    variation = json.loads((folder / "product_variation.json").read_text())
    assert "parent_id" not in variation
    double.add_products([variable], "woocommerce")
    double.add_variations(variable["id"], [variation])

    records = list(woo.iter_products())

    assert [r["id"] for r in records] == [variable["id"], variation["id"]]
    assert records[1]["parent_id"] == variable["id"] and records[1]["type"] == "variation"


def test_customers_refunds_and_one_order(double: StorefrontDouble, woo: WooCommerceClient) -> None:
    from qbsync.simulator.storefront import make_customers

    double.add_customers(make_customers(130, "woocommerce"), "woocommerce")
    orders = make_orders(200, "woocommerce", seed=11)
    double.add_orders(orders)
    refunded = next(o for o in orders if o["refunds"])

    assert [c["id"] for c in woo.iter_customers()] == list(range(1, 131))
    refunds = list(woo.iter_refunds(refunded["id"]))
    assert [r["id"] for r in refunds] == [r["id"] for r in refunded["refunds"]]
    assert refunds[0]["amount"] == refunded["refunds"][0]["total"].lstrip("-")
    assert woo.get_order(refunded["id"])["number"] == refunded["number"]
    with pytest.raises(StorefrontNotFound):
        woo.get_order(999_999)


def test_stock_write_back_batches_by_hundred_and_by_parent(
    double: StorefrontDouble, woo: WooCommerceClient
) -> None:
    simple = [
        {
            "id": 5_000 + i,
            "name": f"Item {i}",
            "type": "simple",
            "sku": f"SKU-{i}",
            "manage_stock": True,
            "stock_quantity": 1,
            "parent_id": 0,
        }
        for i in range(150)
    ]
    double.add_products(simple, "woocommerce")
    double.add_products(make_products("woocommerce"), "woocommerce")
    variations = [p for p in make_products("woocommerce") if p.get("type") == "variation"]
    tee = [v for v in variations if v["sku"].startswith("TEE")]
    hoodie = [v for v in variations if v["sku"].startswith("HOOD")]
    updates = [StockUpdate(p["id"], None, i) for i, p in enumerate(simple)]
    updates += [StockUpdate(v["parent_id"], v["id"], 40 + i) for i, v in enumerate(tee + hoodie)]

    results = woo.set_stock(updates)

    assert [r.update for r in results] == updates and all(r.ok for r in results)
    assert [r.quantity for r in results] == [u.quantity for u in updates]
    batches = double.requests_to("/batch", "POST")
    paths = sorted(b.path.removeprefix("/wp-json/wc/v3/") for b in batches)
    assert paths == sorted(
        [
            "products/batch",
            "products/batch",
            f"products/{tee[0]['parent_id']}/variations/batch",
            f"products/{hoodie[0]['parent_id']}/variations/batch",
        ]
    )
    assert sorted(len(b.body["update"]) for b in batches if b.path.endswith("/products/batch")) == [50, 100]
    assert len(double.stock_writes) == len(updates)
    assert double.product(tee[1]["id"])["stock_quantity"] == 41
    assert double.product(simple[149]["id"])["stock_quantity"] == 149


def test_stock_write_reports_a_refused_item_and_keeps_the_rest(
    double: StorefrontDouble, woo: WooCommerceClient
) -> None:
    catalogue = make_products("woocommerce")
    double.add_products(catalogue, "woocommerce")
    simple = next(p for p in catalogue if p["type"] == "simple")
    variation = next(p for p in catalogue if p.get("type") == "variation")
    wrong_parent = next(p for p in catalogue if p["type"] == "variable" and p["id"] != variation["parent_id"])

    ok, unknown, misfiled = woo.set_stock(
        [
            StockUpdate(simple["id"], None, 3),
            StockUpdate(77_777, None, 1),
            StockUpdate(wrong_parent["id"], variation["id"], 2),
        ]
    )

    assert ok.ok and ok.quantity == 3
    assert not unknown.ok and "Invalid ID" in unknown.error and not unknown.retryable
    assert not misfiled.ok and "Invalid ID" in misfiled.error
    assert double.stock_writes == [
        {"platform": "woocommerce", "product_id": simple["id"], "variation_id": None, "quantity": 3}
    ]


def test_stock_batch_the_store_cannot_take_is_marked_retryable(
    double: StorefrontDouble, woo: WooCommerceClient
) -> None:
    double.add_products(make_products("woocommerce"), "woocommerce")
    double.fail_next(FAST.attempts, 502)

    (result,) = woo.set_stock([StockUpdate(100, None, 9)])

    assert not result.ok and result.retryable and "502" in result.error
    assert double.stock_writes == []


def test_read_only_key_is_refused_for_stock_writes_with_the_fix(
    double: StorefrontDouble, woo: WooCommerceClient
) -> None:
    double.add_products(make_products("woocommerce"), "woocommerce")
    double.woo_read_only = True

    with pytest.raises(StorefrontAuthError) as caught:
        woo.set_stock([StockUpdate(100, None, 9)])

    assert "Read/Write" in str(caught.value) and "WooCommerce › Settings › Advanced › REST API" in str(
        caught.value
    )


def test_stock_quantities_must_be_whole_units() -> None:
    assert StockUpdate(1, None, Decimal("4.000")).quantity == 4
    with pytest.raises(ValueError, match="whole number"):
        StockUpdate(1, None, Decimal("2.5"))
    with pytest.raises(ValueError, match="positive"):
        StockUpdate(0, None, 1)


def test_server_errors_are_retried_until_the_store_answers(
    double: StorefrontDouble, woo: WooCommerceClient, sleeps: SleepRecorder
) -> None:
    double.add_orders(make_orders(120, "woocommerce"))
    double.fail_next(2, 503)

    ids = [o["id"] for o in woo.iter_orders()]

    assert len(ids) == len(set(ids)) == 120
    assert [r.status for r in _order_requests(double)] == [503, 503, 200, 200]
    assert len(sleeps.waits) == 2 and sleeps.waits[0] <= sleeps.waits[1] * 2  # backing off, not hammering


def test_a_store_that_keeps_failing_is_reported_unavailable(
    double: StorefrontDouble, woo: WooCommerceClient
) -> None:
    double.fail_next(100, 500)

    with pytest.raises(StorefrontUnavailable) as caught:
        woo.count_orders()

    assert len(_order_requests(double)) == FAST.attempts
    assert "4 attempts" in str(caught.value) and "HTTP 500" in str(caught.value)


def test_429_waits_as_long_as_retry_after_asks(
    double: StorefrontDouble, woo: WooCommerceClient, sleeps: SleepRecorder
) -> None:
    double.add_orders(make_orders(150, "woocommerce"))
    double.rate_limit_next(1, retry_after=7)
    double.rate_limit_next(
        1, retry_after=format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    )

    ids = [o["id"] for o in woo.iter_orders()]

    assert len(set(ids)) == 150
    assert sleeps.waits[0] >= 7 and 28 <= sleeps.waits[1] <= 31


def test_a_retry_after_longer_than_we_block_for_fails_fast(
    double: StorefrontDouble, woo: WooCommerceClient, sleeps: SleepRecorder
) -> None:
    double.rate_limit_next(1, retry_after=3600)

    with pytest.raises(StorefrontRateLimited) as caught:
        woo.count_orders()

    assert caught.value.retry_after == 3600 and sleeps.waits == []


def test_a_timed_out_request_is_retried(double: StorefrontDouble, sleeps: SleepRecorder) -> None:
    double.add_orders(make_orders(5, "woocommerce"))
    double.delay_next(1, 2.0)
    client = WooCommerceClient(
        double.base_url,
        double.consumer_key,
        double.consumer_secret,
        allow_http=True,
        retry=FAST,
        sleep=sleeps,
        timeout=0.2,
    )

    assert len(list(client.iter_orders())) == 5
    assert len(sleeps.waits) == 1
    client.close()


def test_unreachable_store_is_unavailable_not_a_crash(sleeps: SleepRecorder) -> None:
    with StorefrontDouble() as gone:
        url = gone.base_url  # the port is free again once the double stops
    client = WooCommerceClient(url, "ck_x", "cs_y", allow_http=True, retry=FAST, sleep=sleeps, timeout=2)

    with pytest.raises(StorefrontUnavailable, match="connection failed"):
        client.count_orders()
    assert len(sleeps.waits) == FAST.attempts - 1


def test_wrong_key_raises_auth_error_with_the_fix_and_no_secret(
    double: StorefrontDouble, sleeps: SleepRecorder
) -> None:
    client = WooCommerceClient(
        double.base_url, double.consumer_key, "cs_wrong_secret_123", allow_http=True, retry=FAST, sleep=sleeps
    )

    with pytest.raises(StorefrontAuthError) as caught:
        client.check_credentials()

    message = str(caught.value)
    assert double.base_url in message and "Consumer secret is invalid" in message
    assert (
        "create a new key with Read/Write access under WooCommerce › Settings › Advanced › REST API"
        in message
    )
    assert "cs_wrong_secret_123" not in message and caught.value.status == 401
    assert len(_order_requests(double)) == 1 and sleeps.waits == []  # refused credentials are not retried


def test_check_credentials_describes_the_store(double: StorefrontDouble, woo: WooCommerceClient) -> None:
    double.add_orders(make_orders(12, "woocommerce"))

    description = woo.check_credentials()

    assert "Double Shop" in description and "12 orders" in description


def test_plain_http_is_refused_unless_allowed() -> None:
    with pytest.raises(StorefrontSetupError, match="https://"):
        WooCommerceClient("http://shop.example.com", "ck_1", "cs_2")
    client = WooCommerceClient("shop.example.com/store/", "ck_1", "cs_2")
    assert client.store_url == "https://shop.example.com/store"
    with pytest.raises(StorefrontSetupError):
        WooCommerceClient("https://shop.example.com", "", "cs_2")


def test_repr_hides_the_key_and_secret() -> None:
    client = WooCommerceClient("https://shop.example.com", "ck_live_abcdef", "cs_live_123456")

    assert "ck_live_abcdef" not in repr(client) and "cs_live_123456" not in repr(client)
    assert "https://shop.example.com" in repr(client)


def test_bad_paging_arguments_are_refused_before_any_request(
    woo: WooCommerceClient, double: StorefrontDouble
) -> None:
    with pytest.raises(ValueError, match="per_page"):
        woo.iter_orders(per_page=101)
    with pytest.raises(ValueError, match="start_page"):
        woo.iter_orders(start_page=0)
    with pytest.raises(ValueError, match="ISO 8601"):
        woo.iter_orders(modified_after="last tuesday")
    assert double.requests == []
