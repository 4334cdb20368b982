"""First contact with a company whose chart is the merchant's own: the first session reads it, what the
settings name and it lacks is chosen by type or created, and the first orders land in that same session
with no request answered 3140 (issue 15, "First contact and setup")."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree

from qbsync.connections import switch_company_file
from qbsync.queue import choices, jobs, setup
from qbsync.queue.settings import SyncSettings
from qbsync.simulator.company_store import ITEM_KINDS
from qbsync.storage.models import Connection, QueueJob
from qbsync.storefronts.records import DiscountLine
from tests.accounting import check_order
from tests.engine.conftest import make_order
from tests.engine.merchant_company import make_merchant_company

# "merchant": the legacy company with every record qbsync's defaults name renamed or removed; the others are
# the simulator's profiles (QuickBooks' own setup interview).
PROFILES = ["merchant", "retail", "service"]
# What the setup must end with, per profile: setting -> the record in QuickBooks and how it got there.
EXPECTED = {
    "merchant": {"income_account": ("Sales Income", "chosen"),
                 "shipping_account": ("Freight Income", "chosen"),
                 "discount_account": ("Sales Discounts", "created"), "shipping_item": ("Shipping", "created"),
                 "discount_item": ("Discount", "created"), "non_taxable_code": ("Ex", "chosen")},
    "retail": {"income_account": ("Sales", "chosen"), "shipping_account": ("Freight Income", "chosen"),
               "discount_account": ("Discounts Given", "chosen"), "shipping_item": ("Shipping", "created"),
               "discount_item": ("Discount", "created")},
    # no inventory and no sales tax: products become non-inventory items, lines name no tax code
    "service": {"income_account": ("Consulting Income", "chosen"),
                "shipping_account": ("Shipping and Delivery Income", "created"),
                "item_type_inventory": ("non_inventory", "chosen"), "non_taxable_code": ("", "chosen")},
}


def shop_on(make_shop, profile: str):
    """A shop whose QuickBooks company is ``profile``."""
    if profile == "merchant":
        shop = make_shop(profile="legacy")
        make_merchant_company(shop.company)
        return shop
    return make_shop(profile=profile)


def answered(shop, code: int) -> list[str]:
    """Every request the simulated QuickBooks answered with ``code``, by request type."""
    return answered_in(shop.company, code)


def answered_in(company, code: int) -> list[str]:
    """:func:`answered` for a company without a shop around it."""
    found = []
    for entry in company.request_log:
        if not entry.response:
            continue
        for rs in etree.fromstring(entry.response.encode()).iterfind("QBXMLMsgsRs/*"):
            if rs.get("statusCode") == str(code):
                found.append(f"{rs.tag}: {rs.get('statusMessage')}")
    return found


@pytest.mark.parametrize("profile", PROFILES)
def test_first_orders_land_in_the_first_session_with_no_3140(make_shop, profile):
    shop = shop_on(make_shop, profile)
    plain = make_order(1)
    discounted = make_order(2, discounts=(DiscountLine(code="WELCOME", amount=Decimal("1.00")),),
                            total=Decimal("23.00"))
    shop.feed("order", plain)
    shop.feed("order", discounted)

    (first,) = shop.sync(sessions=1)

    assert answered(shop, 3140) == []
    assert sorted(r["RefNumber"] for r in shop.company.transactions("SalesReceipt")) == ["1", "2"]
    for order in (plain, discounted):
        check_order(shop.company, order.number, sold=order.total, paid=order.total, refunded="0.00",
                    open_balance="0.00", open_credits="0.00", tax_total="0.00")
    assert not shop.jobs(QueueJob.state.in_(("parked", "waiting", "held", "pending")))
    # what the settings named and the company lacked was chosen by type or created, and recorded
    with shop.runtime.db.transaction() as session:
        done = {d["setting"]: (d["name"], d["how"]) for d in setup.state(session, shop.connection_id)["done"]}
        effective = SyncSettings(session.get(Connection, shop.connection_id).settings)
    for setting, (name, how) in EXPECTED[profile].items():
        assert done.get(setting) == (name, how), setting
        assert effective[setting] == name, setting
    for setting, (name, how) in done.items():
        if how == "created" and setting in choices.BY_SETTING:
            kinds = ("Account",) if choices.BY_SETTING[setting].list_type == "Account" else ITEM_KINDS
            assert shop.company.store.by_name(kinds, name) is not None, (setting, name)
    # the setup's adds are independent of each other: they all went to QuickBooks in one round trip
    adds = [e for e in shop.company.request_log if "<AccountAddRq" in e.request]
    assert len(adds) <= 1
    shipping = shop.company.find("ItemOtherCharge", effective["shipping_item"])
    assert shipping["SalesOrPurchase"]["AccountRef"]["FullName"] == effective["shipping_account"]
    discount = shop.company.find("ItemDiscount", effective["discount_item"])
    assert discount["AccountRef"]["FullName"] == effective["discount_account"]
    shop.assert_every_request_valid()


@pytest.mark.parametrize("profile", ["merchant", "retail"])
def test_the_first_session_does_it_all(make_shop, profile):
    shop = shop_on(make_shop, profile)
    shop.feed("order", make_order(1))

    reports = shop.sync(sessions=1)

    assert len(reports) == 1
    assert [r["RefNumber"] for r in shop.company.transactions("SalesReceipt")] == ["1"]
    assert answered(shop, 3140) == []


@pytest.mark.parametrize("profile", ["merchant", "retail"])
def test_a_setting_naming_what_quickbooks_lacks_waits_with_its_cause_and_heals_when_saved(make_shop, profile):
    shop = shop_on(make_shop, profile)
    shop.sync()  # the first session reads the company and sets it up
    # A person named an account that is gone from QuickBooks since (renamed there, say).
    shop.configure(deposit_account="Chase Checking")
    with shop.runtime.db.transaction() as session:
        setup.mark_reviewed(session, shop.connection_id, ["deposit_account"])
    shop.feed("order", make_order(1))
    shop.sync()

    assert answered(shop, 3140) == []
    assert shop.company.transactions("SalesReceipt") == []
    (order,) = shop.jobs(QueueJob.kind == "order")
    assert order.state == "waiting"
    assert "QuickBooks has no the account" not in order.reason
    assert "QuickBooks has no account 'Chase Checking' (setting deposit_account)" in order.reason
    assert "<FullName>Chase Checking</FullName>" in order.last_request_xml  # what would have been sent

    shop.configure(deposit_account="Checking")  # the fix, saved: no retry click
    with shop.runtime.db.transaction() as session:
        setup.settings_saved(session, shop.connection_id, ["deposit_account"])
    shop.sync()

    (receipt,) = shop.company.transactions("SalesReceipt")
    assert receipt["DepositToAccountRef"]["FullName"] == "Checking"
    assert answered(shop, 3140) == []


# Companies that lack a discount account: the merchant's and the Oregon shop (retail has one).
@pytest.mark.parametrize("profile", ["merchant", "oregon"])
def test_a_record_quickbooks_refuses_to_add_stops_only_the_orders_that_need_it(make_shop, profile):
    shop = shop_on(make_shop, profile)
    shop.company.inject(code=3100, request_type="AccountAdd", times=1,
                        message='The name "Sales Discounts" of the list element is already in use.')
    plain = make_order(1)
    discounted = make_order(2, discounts=(DiscountLine(code="WELCOME", amount=Decimal("1.00")),),
                            total=Decimal("23.00"))
    shop.feed("order", plain)
    shop.feed("order", discounted)
    shop.sync()

    assert answered(shop, 3140) == []
    assert [r["RefNumber"] for r in shop.company.transactions("SalesReceipt")] == ["1"]
    (setup_job,) = shop.jobs(QueueJob.kind == "company_setup", QueueJob.state == "parked")
    assert "QuickBooks refused to add 'Sales Discounts' for discount_account (3100)" in setup_job.reason
    (item,) = shop.jobs(QueueJob.kind == "item", QueueJob.state == "waiting")
    assert "QuickBooks has no account 'Sales Discounts' (setting discount_account)" in item.reason

    # The merchant picks an existing account for discounts (the setup page or the settings page): the
    # income account the setup chose for products.
    with shop.runtime.db.transaction() as session:
        income = SyncSettings(session.get(Connection, shop.connection_id).settings)["income_account"]
    shop.configure(discount_account=income)
    with shop.runtime.db.transaction() as session:
        setup.settings_saved(session, shop.connection_id, ["discount_account"])
    shop.sync()

    assert sorted(r["RefNumber"] for r in shop.company.transactions("SalesReceipt")) == ["1", "2"]
    assert shop.company.find("ItemDiscount", "Discount")["AccountRef"]["FullName"] == income
    assert answered(shop, 3140) == []
    assert not shop.jobs(QueueJob.state.in_(("parked", "waiting", "held")))


@pytest.mark.parametrize("profile", ["service", "merchant"])
def test_first_contact_happens_with_list_refresh_turned_off(make_shop, profile):
    # A merchant who turned the periodic refresh off (0: only when asked) still gets the first contact:
    # without it nothing knows the company lacks "Shipping and Delivery Income" and QuickBooks answers 3140.
    shop = shop_on(make_shop, profile)
    shop.configure(list_refresh_hours=0, lookup_before_add="when_unsure")
    shop.feed("order", make_order(1))

    (first,) = shop.sync(sessions=1)

    assert answered(shop, 3140) == []
    assert [r["RefNumber"] for r in shop.company.transactions("SalesReceipt")] == ["1"]
    assert len(shop.requests("HostQueryRq")) == 1
    assert shop.jobs(QueueJob.kind == "company_setup", QueueJob.state == "done")

    shop.sync()  # later sessions do not read the company again: the refresh is off
    assert len(shop.requests("HostQueryRq")) == 1

    # The Web Connector opens another company file: it is sent nothing until a person switches the
    # connection to it; then that company is read and set up before anything is sent.
    other = r"C:\Users\Public\Documents\Intuit\QuickBooks\Other Store.QBW"
    shop.connector.company_file_name = other
    shop.feed("order", make_order(51))  # the same customer and product as order 1: nothing else to add
    shop.sync(sessions=1)
    assert len(shop.requests("HostQueryRq")) == 1
    with shop.runtime.db.transaction() as session:
        switch_company_file(session, session.get(Connection, shop.connection_id), other)
    shop.sync()
    assert len(shop.requests("HostQueryRq")) == 2
    assert sorted(r["RefNumber"] for r in shop.company.transactions("SalesReceipt")) == ["1", "51"]
    # the sale names its payment method: not by what the other file's lists said, but after the new read
    sent = [e.request for e in shop.company.request_log]
    reread = max(i for i, doc in enumerate(sent) if "<HostQueryRq" in doc)
    assert min(i for i, doc in enumerate(sent) if "<RefNumber>51</RefNumber>" in doc) > reread
    assert answered(shop, 3140) == []


def test_an_add_naming_a_record_another_add_makes_waits_for_it(runtime, make_connection):
    conn_id = make_connection().id
    agency = choices.Proposal(choices.BY_SETTING["tax_agency"], "", choices.CREATE, "State Board",
                              request=("VendorAdd", {"Name": "State Board"}))
    item = choices.Proposal(choices.BY_SETTING["quickbooks_tax_item"], "", choices.CREATE, "Web Sales Tax",
                            request=("ItemSalesTaxAdd", {"Name": "Web Sales Tax",
                                                         "TaxVendorRef": {"FullName": "State Board"}}))
    account = choices.Proposal(choices.BY_SETTING["shipping_account"], "", choices.CREATE, "Freight",
                               request=("AccountAdd", {"Name": "Freight", "AccountType": "Income"}))
    with runtime.db.transaction() as session:
        vendor_job, item_job, account_job = setup.queue_adds(session, conn_id, [agency, item, account])
        assert (vendor_job.state, account_job.state) == ("pending", "pending")  # one round trip
        assert item_job.state == "waiting"
        assert [j.id for j in jobs.dependencies(session, item_job)] == [vendor_job.id]
        assert setup.queue_adds(session, conn_id, [agency, item, account]) == []  # being added already
