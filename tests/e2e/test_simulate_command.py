"""`qbsync simulate` against a served qbsync, as the README uses it: signed webhooks in, sessions out, the
simulated company kept between runs, and the printout in plain words."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from qbsync.queue import lists
from qbsync.simulator.cli import simulate
from qbsync.simulator.company import QuickBooksCompany
from qbsync.storage.models import WebhookDelivery
from qbsync.webhooks.signatures import sign
from tests.accounting import check_order

SECRET = "my-webhook-secret"
PASSWORD = "correct horse battery"


def woo_order(number: int) -> dict:
    """A paid WooCommerce order of one buyer and one product (the same in every order)."""
    return {"id": number, "number": str(number), "status": "processing", "currency": "USD",
            "date_created_gmt": "2026-12-01T15:00:00", "date_modified_gmt": "2026-12-01T15:00:00",
            "date_paid_gmt": "2026-12-01T15:00:05", "customer_id": 0,
            "billing": {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"},
            "line_items": [{"id": 1, "name": "Red mug", "product_id": 42, "quantity": 2, "sku": "MUG-RED",
                            "price": 8, "subtotal": "16.00", "total": "16.00", "total_tax": "0.00"}],
            "shipping_lines": [{"id": 2, "method_title": "Flat rate", "total": "5.00"}],
            "total": "21.00", "total_tax": "0.00", "payment_method": "stripe",
            "payment_method_title": "Credit card"}


def post_order(runtime, base_url: str, number: int) -> None:
    """Post the order as WooCommerce does and wait until qbsync has queued it."""
    body = json.dumps(woo_order(number)).encode()
    answer = httpx.post(f"{base_url}/webhooks/woocommerce/shop", content=body, headers={
        "Content-Type": "application/json", "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Source": "https://shop.example.com/", "X-WC-Webhook-Signature": sign(SECRET, body)})
    assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with runtime.db.transaction() as session:
            waiting = session.scalar(select(func.count()).select_from(WebhookDelivery)
                                     .where(WebhookDelivery.state == "stored"))
        if not waiting:
            return
        time.sleep(0.05)
    raise AssertionError("the delivery was never processed")


def run_simulate(base_url: str, *extra: str):
    result = CliRunner().invoke(simulate, ["--url", f"{base_url}/qbwc", "--username", "shop-qbwc",
                                           "--password", PASSWORD, "--until-idle", *extra])
    assert result.exit_code == 0, result.output
    return result.output


# The README's run, on the default company and on a service firm's (no inventory, no sales tax). The
# printout test below stays on the default company: it names what the retail setup lacks at first.
@pytest.mark.parametrize("profile", ["retail", "service"])
def test_a_second_run_finds_what_the_first_added(runtime, live_server, make_connection, tmp_path,
                                                  monkeypatch, profile):
    monkeypatch.setenv("QBSYNC_DATA_DIR", str(tmp_path / "data"))
    make_connection("shop", webhook_secret=SECRET)
    post_order(runtime, live_server.url, 5001)
    first = run_simulate(live_server.url, "--profile", profile)
    post_order(runtime, live_server.url, 5002)  # the same buyer and product, already linked in qbsync
    second = run_simulate(live_server.url)  # the saved company keeps its profile

    company_file = tmp_path / "data" / "simulated-quickbooks" / "shop-qbwc.json"
    assert f"company file: {company_file} (new)" in first
    assert f"company file: {company_file} (reused" in second
    assert "3140" not in second and "does not have" not in second
    company = QuickBooksCompany.load(company_file)
    assert company.find("SalesReceipt", "5001") is not None
    assert company.find("SalesReceipt", "5002") is not None
    assert company.counts()["Customer"] == 1  # the guest checkouts' shared customer, added once
    assert company.profile.name == profile
    for number in ("5001", "5002"):
        assert company.find("SalesReceipt", number)["BillAddress"]["Addr1"] == "Ann Lee"
        check_order(company, number, customer="Web Guests", sold="21.00", paid="21.00", refunded="0.00",
                    open_balance="0.00", open_credits="0.00", tax_total="0.00")


# One company: the words the command prints for the list reads, which every profile reads alike.
def test_reading_reference_lists_is_not_called_records_synced(runtime, live_server, make_connection,
                                                               tmp_path, monkeypatch):
    monkeypatch.setenv("QBSYNC_DATA_DIR", str(tmp_path / "data"))
    make_connection("shop", webhook_secret=SECRET)

    nothing_queued = run_simulate(live_server.url, "--in-memory")
    post_order(runtime, live_server.url, 5001)
    one_order = run_simulate(live_server.url, "--in-memory")

    # The first contact reads QuickBooks' lists; nothing of the store's went in.
    assert f"qbsync said: {len(lists.DEFAULT_LISTS)} reference lists read" in nothing_queued
    assert "records synced" not in nothing_queued
    assert "added to QuickBooks" not in nothing_queued
    # Looking a customer or item up before adding it is ordinary: counted, never shown as a refusal.
    assert "look-ups that found nothing (ordinary: qbsync checks before adding):" in one_order
    assert "said no" not in one_order and " 500 " not in one_order
    added = next(line for line in one_order.splitlines() if "added to QuickBooks:" in line)
    # On the retail company the sale also brings its shipping item (created when first needed) and
    # QuickBooks' Undeposited Funds (which QuickBooks creates on first use).
    for part in ("Customer +1", "ItemNonInventory +1", "SalesReceipt +1", "ItemOtherCharge +1"):
        assert part in added, added
