"""The storefront double and its made-up data: shapes, arithmetic, and the platform behaviour clients use."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import httpx
import pytest

from qbsync.simulator.storefront import StorefrontDouble, make_customers, make_orders, make_products
from qbsync.simulator.storefront_data import generate_orders


@pytest.fixture
def double() -> Iterator[StorefrontDouble]:
    with StorefrontDouble(bucket_size=5, leak_rate=0.5) as running:
        yield running


def _woo_get(double: StorefrontDouble, path: str, auth=None, **params) -> httpx.Response:
    auth = auth or (double.consumer_key, double.consumer_secret)
    return httpx.get(f"{double.base_url}/wp-json/wc/v3/{path}", params=params, auth=auth)


def _shopify_get(double: StorefrontDouble, path: str, token: str | None = None, **params) -> httpx.Response:
    return httpx.get(
        f"{double.base_url}/admin/api/2026-07/{path}",
        params=params,
        headers={"X-Shopify-Access-Token": token or double.access_token},
    )


def _cents(text: str) -> int:
    return int(Decimal(text) * 100)


def test_made_orders_are_deterministic_and_varied() -> None:
    orders = make_orders(400, "woocommerce", seed=4)

    assert orders == make_orders(400, "woocommerce", seed=4)
    assert orders != make_orders(400, "woocommerce", seed=5)
    assert [o["id"] for o in orders] == list(range(1001, 1401))
    assert len({o["status"] for o in orders}) >= 6
    assert any(o["customer_id"] == 0 for o in orders) and any(o["customer_id"] for o in orders)
    assert any(o["coupon_lines"] for o in orders) and any(o["refunds"] for o in orders)
    assert any(li["variation_id"] for o in orders for li in o["line_items"])
    created = [o["date_created_gmt"] for o in orders]
    assert created == sorted(created) and created[0] < "2024-03-01" and created[-1] > "2025-10-01"
    assert any(o["date_modified_gmt"] > o["date_created_gmt"] for o in orders)
    assert list(generate_orders(400, "woocommerce", seed=4)) == orders


def test_woocommerce_orders_add_up(reference_dir) -> None:
    sample = json.loads((reference_dir / "storefront" / "woocommerce" / "order.json").read_text())
    skus = {p["sku"] for p in make_products("woocommerce")}
    for order in make_orders(300, "woocommerce", seed=9):
        assert set(sample) - {"_links"} <= set(order)  # every field of the documented shape
        lines = sum(_cents(li["total"]) for li in order["line_items"])
        shipping = sum(_cents(s["total"]) for s in order["shipping_lines"])
        fees = sum(_cents(f["total"]) for f in order["fee_lines"])
        assert _cents(order["total"]) == lines + shipping + fees + _cents(order["total_tax"])
        assert _cents(order["cart_tax"]) == sum(_cents(li["total_tax"]) for li in order["line_items"])
        assert _cents(order["discount_total"]) == sum(
            _cents(li["subtotal"]) - _cents(li["total"]) for li in order["line_items"]
        )
        assert all(li["sku"] in skus for li in order["line_items"])
        for refund in order["refunds"]:
            assert refund["total"].startswith("-")


def test_shopify_orders_add_up_and_cross_the_float_safe_id_limit(reference_dir) -> None:
    sample = json.loads((reference_dir / "storefront" / "shopify" / "order.json").read_text())
    catalogue = {v["sku"]: v for p in make_products("shopify") for v in p["variants"]}
    orders = make_orders(300, "shopify", seed=1)
    assert orders[0]["id"] < 2**53 < orders[-1]["id"]
    assert len({o["financial_status"] for o in orders}) >= 5
    for order in orders:
        important = {
            "id",
            "name",
            "order_number",
            "line_items",
            "tax_lines",
            "shipping_lines",
            "total_price",
            "subtotal_price",
            "total_tax",
            "financial_status",
            "fulfillment_status",
            "discount_codes",
            "refunds",
            "created_at",
            "updated_at",
            "current_total_price",
            "total_price_set",
        }
        assert important <= set(order) and important <= set(sample)
        shipping = sum(_cents(s["price"]) for s in order["shipping_lines"])
        assert _cents(order["total_price"]) == _cents(order["subtotal_price"]) + shipping + _cents(
            order["total_tax"]
        )
        assert _cents(order["total_line_items_price"]) == sum(
            _cents(li["price"]) * li["quantity"] for li in order["line_items"]
        )
        assert _cents(order["current_total_price"]) <= _cents(order["total_price"])
        assert order["total_price_set"]["shop_money"]["amount"] == order["total_price"]
        for line in order["line_items"]:
            assert catalogue[line["sku"]]["id"] == line["variant_id"]


def test_customers_match_the_customers_on_orders() -> None:
    customers = {c["id"]: c for c in make_customers(500, "woocommerce")}
    for order in make_orders(100, "woocommerce"):
        if order["customer_id"]:
            assert customers[order["customer_id"]]["email"] == order["billing"]["email"]
    shopify_customers = {c["id"]: c for c in make_customers(500, "shopify")}
    for order in make_orders(100, "shopify"):
        if order["customer"]:
            assert shopify_customers[order["customer"]["id"]]["email"] == order["email"]


def test_woocommerce_errors_look_like_woocommerces(double: StorefrontDouble) -> None:
    missing = httpx.get(f"{double.base_url}/wp-json/wc/v3/orders")
    wrong = _woo_get(double, "orders", auth=("ck_wrong", double.consumer_secret))
    too_many = _woo_get(double, "orders", per_page=101)

    assert missing.status_code == 401 and missing.json()["code"] == "woocommerce_rest_cannot_view"
    assert wrong.status_code == 401 and wrong.json() == {
        "code": "woocommerce_rest_authentication_error",
        "message": "Consumer key is invalid.",
        "data": {"status": 401},
    }
    assert too_many.status_code == 400 and too_many.json()["code"] == "rest_invalid_param"
    assert _woo_get(double, "nothing-here").json()["code"] == "rest_no_route"


def test_woocommerce_paging_headers(double: StorefrontDouble) -> None:
    double.add_orders(make_orders(25, "woocommerce"))

    answer = _woo_get(double, "orders", per_page=10, page=2)

    assert answer.headers["X-WP-Total"] == "25" and answer.headers["X-WP-TotalPages"] == "3"
    assert 'rel="next"' in answer.headers["Link"] and 'rel="prev"' in answer.headers["Link"]
    assert len(answer.json()) == 10
    assert _woo_get(double, "orders", per_page=10, page=4).json()["code"] == "rest_post_invalid_page_number"


def test_an_edited_order_shows_up_for_modified_after(double: StorefrontDouble) -> None:
    orders = make_orders(50, "woocommerce", end=datetime(2025, 1, 1))
    double.add_orders(orders)
    double.update_order(
        orders[10]["id"],
        {"status": "cancelled"},
        platform="woocommerce",
        modified_at=datetime(2025, 6, 1, 8, 30),
    )

    changed = _woo_get(double, "orders", modified_after="2025-05-31T00:00:00", dates_are_gmt="true").json()

    assert [(o["id"], o["status"], o["date_modified_gmt"]) for o in changed] == [
        (orders[10]["id"], "cancelled", "2025-06-01T08:30:00")
    ]


def test_shopify_bucket_fills_then_answers_429_with_retry_after(double: StorefrontDouble) -> None:
    answers = [_shopify_get(double, "shop.json") for _ in range(6)]

    assert [a.headers["X-Shopify-Shop-Api-Call-Limit"] for a in answers[:5]][-1] == "5/5"
    assert answers[0].headers["X-Shopify-Shop-Api-Call-Limit"] in ("1/5", "2/5")
    assert answers[5].status_code == 429
    assert 0 < float(answers[5].headers["Retry-After"]) <= 2.0  # one request drains in 2 s at 0.5/s
    assert double.rate_limited == [float(answers[5].headers["Retry-After"])]


def test_shopify_token_and_paging_rules(double: StorefrontDouble) -> None:
    double.add_orders(make_orders(7, "shopify"))

    assert _shopify_get(double, "orders.json", token="shpat_wrong").status_code == 401
    first = _shopify_get(double, "orders.json", limit=3, status="any")
    link = first.headers["Link"]
    cursor = httpx.URL(link[1 : link.index(">")]).params["page_info"]
    second = _shopify_get(double, "orders.json", limit=3, page_info=cursor)
    refused = _shopify_get(double, "orders.json", limit=3, page_info=cursor, updated_at_min="2024-01-01")

    assert [o["id"] for o in first.json()["orders"] + second.json()["orders"]] == [
        o["id"] for o in double.orders("shopify")
    ][:6]
    assert 'rel="previous"' in second.headers["Link"]
    assert refused.status_code == 400 and "updated_at_min cannot be passed" in refused.json()["errors"]
    assert _shopify_get(double, "orders.json", page_info="garbage").status_code == 400


def test_faults_are_injected_in_order_and_recorded(double: StorefrontDouble) -> None:
    double.fail_next(1, 503, retry_after=4)
    double.rate_limit_next(1, retry_after=2)

    first, second, third = (_woo_get(double, "orders") for _ in range(3))

    assert (first.status_code, first.headers["Retry-After"]) == (503, "4")
    assert (second.status_code, second.headers["Retry-After"]) == (429, "2")
    assert third.status_code == 200
    assert [r.status for r in double.requests] == [503, 429, 200]


def test_orders_are_kept_as_copies(double: StorefrontDouble) -> None:
    order = make_orders(1, "woocommerce")[0]
    double.add_orders([order])
    order["status"] = "changed after adding"

    assert double.orders("woocommerce")[0]["status"] != "changed after adding"
    with pytest.raises(ValueError, match="integer 'id'"):
        double.add_orders([{"number": "1"}], platform="woocommerce")


def test_start_is_idempotent_and_stop_releases_the_port() -> None:
    double = StorefrontDouble()
    url = double.start()
    assert double.start() == url
    double.stop()
    double.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/wp-json/")
    with pytest.raises(RuntimeError, match="not running"):
        _ = double.base_url


def test_assumed_an_order_without_set_transactions_answers_one_sale_of_its_total(
    double: StorefrontDouble,
) -> None:
    """Assumed: the double makes up an order's transactions when a test set none (one successful sale of
    the total through its first gateway); the list comes whole, as Shopify's endpoint has no paging."""
    order = make_orders(1, "shopify", seed=4)[0]
    double.add_orders([order], "shopify")

    answer = _shopify_get(double, f"orders/{order['id']}/transactions.json", in_shop_currency="true")

    assert answer.status_code == 200 and "link" not in answer.headers
    (sale,) = answer.json()["transactions"]
    assert (sale["kind"], sale["status"], sale["amount"]) == ("sale", "success", order["total_price"])
    assert sale["gateway"] == order["payment_gateway_names"][0]
    assert _shopify_get(double, "orders/1/transactions.json").status_code == 404
