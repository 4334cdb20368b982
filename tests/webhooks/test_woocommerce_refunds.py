"""A WooCommerce order webhook naming a refund: the refund is read from the store and queued.

WooCommerce orders list refunds only as summaries and no webhook topic carries a refund, so before this a
refund made in a WooCommerce store never reached QuickBooks.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from qbsync.simulator.storefront import StorefrontDouble


@pytest.fixture
def double():
    with StorefrontDouble() as running:
        yield running


def refunded(order: dict, refund: dict) -> dict:
    """The order as WooCommerce sends it after ``refund``: its summary listed, modified later."""
    return {**order, "refunds": [{"id": refund["id"], "reason": refund["reason"],
                                  "total": f"-{refund['amount']}"}],
            "date_modified_gmt": "2017-03-23T10:00:00", "date_modified": "2017-03-23T07:00:00"}


def post(client, kit, payload: dict, source: str):
    body = kit.compact(payload)
    headers = {**kit.woo_headers(body, topic="order.updated"), "X-WC-Webhook-Source": f"{source}/"}
    answer = client.post("/webhooks/woocommerce/woo", data=body, headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    kit.finish_background()


def test_a_refund_an_order_names_is_read_from_the_store_and_queued_once(client, kit, make_connection, double,
                                                                      storefront_dir):
    make_connection("woo", platform="woocommerce", webhook_secret=kit.woo_secret, store_url=double.base_url,
                    api_credentials={"consumer_key": double.consumer_key,
                                     "consumer_secret": double.consumer_secret})
    order = json.loads((storefront_dir / "woocommerce" / "order.json").read_text())
    refund = json.loads((storefront_dir / "woocommerce" / "order_refund.json").read_text())
    double.add_orders([order], "woocommerce")
    double.add_refunds(order["id"], [refund])

    post(client, kit, refunded(order, refund), double.base_url)
    post(client, kit, {**refunded(order, refund), "customer_note": "edited"}, double.base_url)

    (job,) = kit.jobs_for("refund")
    assert job.record_id == str(refund["id"])
    assert job.payload["record"]["order_id"] == str(order["id"])
    assert Decimal(job.payload["record"]["amount"]) == Decimal(refund["amount"])
    # Read once: the second delivery names a refund qbsync already has.
    assert len(double.requests_to(f"/orders/{order['id']}/refunds")) == 1
    assert {d.state for d in kit.deliveries()} == {"processed"}


def test_without_store_access_the_order_is_still_processed(client, kit, make_connection, storefront_dir):
    make_connection("woo", platform="woocommerce", webhook_secret=kit.woo_secret,
                    store_url="https://shop.example.com")
    order = json.loads((storefront_dir / "woocommerce" / "order.json").read_text())
    refund = json.loads((storefront_dir / "woocommerce" / "order_refund.json").read_text())

    post(client, kit, refunded(order, refund), "https://shop.example.com")

    assert [d.state for d in kit.deliveries()] == ["processed"]
    assert kit.jobs_for("order") and not kit.jobs_for("refund")
