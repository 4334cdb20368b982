"""The Sync errors page on a real sync: 3140s for one missing account are one cause with one fix, and
"retry all" after the fix brings every order into QuickBooks."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from qbsync.passwords import hash_password
from qbsync.queue.causes import cause_of
from qbsync.service.app import create_app
from qbsync.storage.models import User
from tests.accounting import check_synced_order
from tests.engine.conftest import account_of_type, make_order
from tests.pages.conftest import ADMIN, ADMIN_PASSWORD, post, text_of


def _signed_in(runtime):
    with runtime.db.transaction() as session:
        session.add(User(username=ADMIN, password_hash=hash_password(ADMIN_PASSWORD)))
    client = create_app(runtime=runtime).test_client()
    client.get("/login")
    post(client, "/login", {"username": ADMIN, "password": ADMIN_PASSWORD})
    return client


# About account names: the default company and the service one, whose bank account has another name.
@pytest.mark.parametrize("profile", ["retail", "service"])
def test_orders_refused_for_one_missing_account_are_one_cause_and_retry_all_brings_them_in(shop):
    from qbsync.queue import setup

    shop.configure(deposit_account="Chase Checking")  # the company has no such account
    with shop.runtime.db.transaction() as session:  # a person chose it (so the company setup keeps it)
        setup.mark_reviewed(session, shop.connection_id, ["deposit_account"])
    for number in (1001, 1002, 1003):
        shop.feed("order", make_order(number))
    shop.sync()
    assert shop.sales() == []
    client = _signed_in(shop.runtime)

    page = text_of(client.get("/errors"))
    assert "3 orders: QuickBooks has no account “Chase Checking”" in page
    assert page.count("Chase Checking”") == 2  # one row (its title and its fix), not one per order
    assert "What to do: Create the account “Chase Checking” in QuickBooks" in page
    body = client.get("/errors").get_data(as_text=True)
    setting_link = r'href="/settings/[^"]+#setting-deposit_account">Change the setting deposit_account'
    assert re.search(setting_link, body)

    shop.configure(deposit_account=account_of_type(shop.company, "Bank"))  # the fix: an account it has
    action = re.search(r'action="(/errors/[^"]+/retry)"', body).group(1)
    post(client, action)
    assert "No errors: nothing waits for a person." in text_of(client.get("/errors"))
    shop.sync()
    assert sorted(t["RefNumber"] for t in shop.sales()) == ["1001", "1002", "1003"]
    for number in (1001, 1002, 1003):
        check_synced_order(shop.company, make_order(number))


def test_causes_group_by_the_missing_reference_not_by_the_transaction_it_was_in():
    in_receipt = cause_of(3140, 'There is an invalid reference to QuickBooks Account "Chase Checking" in the '
                                'SalesReceipt.  QuickBooks error message: Invalid argument.', None)
    in_invoice = cause_of(3140, 'There is an invalid reference to QuickBooks Account "Chase Checking" in the '
                                'Invoice.  QuickBooks error message: Invalid argument.', None)
    other = cause_of(3140, 'There is an invalid reference to QuickBooks Item "Shipping" in the Invoice line.',
                     None)
    assert in_receipt.key == in_invoice.key != other.key
    assert other.title == "QuickBooks has no item “Shipping”"
    # qbsync's own reasons group with the numbers that differ from job to job left out.
    first = cause_of(None, None, "waiting for job #12 (Item X), which needs attention: no price")
    second = cause_of(None, None, "waiting for job #4087 (Item X), which needs attention: no price")
    assert first.key == second.key


@pytest.mark.parametrize("profile", ["retail", "service"])
def test_orders_left_out_by_a_rule_are_listed_with_the_rule_and_still_sync_once_the_rule_lets_them_in(shop):
    shop.feed("order", make_order(2001, status="pending"))
    shop.feed("order", make_order(2001, status="pending", note="edited"))  # one row per order, not per change
    shop.feed("order", make_order(2002, total=Decimal("0"), lines=(), shipping_lines=(), subtotal=Decimal(0),
                                  shipping_total=Decimal(0)))
    client = _signed_in(shop.runtime)
    page = text_of(client.get("/queue?state=left_out"))
    assert page.count("order 2001") == 1
    assert ("Left out by rule: status 'pending' is not one of the synced statuses (processing, completed)"
            in page)
    assert "Left out by rule: the order total is zero (exclude_zero_total_orders)" in page
    shop.sync()
    assert shop.sales() == []
    shop.feed("order", make_order(2001, status="processing"))  # now the rule lets it in
    shop.sync()
    assert [t["RefNumber"] for t in shop.sales()] == ["2001"]
