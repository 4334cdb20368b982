"""What syncs, and as what: statuses, exclusions, transaction types, proxy customer, payment methods,
items."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from qbsync.queue import naming, rules
from qbsync.queue.settings import SyncSettings, validate_overrides
from qbsync.storage.models import QueueJob
from qbsync.storefronts.records import Address, Customer, Product, Refund, RefundLine
from tests.accounting import check_order, check_synced_order
from tests.engine.conftest import make_order

# Order rules touch no stock and no tax: the default company and one with neither (service).
ON_TWO_COMPANIES = pytest.mark.parametrize("profile", ["retail", "service"])

ANN = Customer(storefront_id="42", email="ann@example.com", first_name="Ann", last_name="Lee")
GUEST = Customer(
    storefront_id=None, email="guest@example.com", first_name="Gus", last_name="Guest", is_guest=True
)


@ON_TWO_COMPANIES
def test_orders_outside_the_synced_statuses_or_excluded_never_reach_quickbooks(shop):
    shop.configure(exclude_order_tag="NC Only")
    assert shop.feed("order", make_order(5001, status="pending", paid=False)) is None
    assert shop.feed("order", make_order(5002, note="NC Only - keep out of the books")) is None
    free = make_order(5003)
    free = dataclasses.replace(
        free,
        total=Decimal(0),
        shipping_lines=(),
        shipping_total=Decimal(0),
        lines=(
            dataclasses.replace(free.lines[0], subtotal=Decimal(0), total=Decimal(0), unit_price=Decimal(0)),
        ),
        subtotal=Decimal(0),
    )
    assert shop.feed("order", free) is None
    shop.feed("order", make_order(5004))
    shop.sync()

    assert [r["RefNumber"] for r in shop.sales()] == ["5004"]
    check_synced_order(shop.company, make_order(5004))
    shop.assert_every_request_valid()


@ON_TWO_COMPANIES
def test_transaction_type_follows_payment_and_status(shop):
    shop.configure(order_type_by_status=["on_hold=sales_order"])
    shop.feed("order", make_order(5101, paid=True))
    shop.feed("order", make_order(5102, paid=False))
    shop.configure(
        sync_order_statuses=["processing", "completed", "on_hold"],
        order_type_by_status=["on_hold=sales_order"],
    )
    shop.feed("order", make_order(5103, paid=False, status="on_hold"))
    shop.sync()

    kinds = {t["RefNumber"]: t["kind"] for t in shop.sales()}
    assert kinds == {"5101": "SalesReceipt", "5102": "Invoice", "5103": "SalesOrder"}
    # the unpaid invoice is its customer's open balance; a sales order is no sale in the books
    check_synced_order(shop.company, make_order(5101))
    check_synced_order(shop.company, make_order(5102, paid=False))
    shop.assert_every_request_valid()


@ON_TWO_COMPANIES
def test_guests_can_share_one_proxy_customer(shop):
    shop.configure(proxy_customer="Web Customer", proxy_customer_for="guests")
    shop.feed("order", make_order(5201, customer=GUEST))
    shop.feed("order", make_order(5202, customer=dataclasses.replace(GUEST, email="other@example.com")))
    shop.feed("order", make_order(5203, customer=ANN))
    shop.sync()

    customers = {t["RefNumber"]: t["CustomerRef"]["FullName"] for t in shop.sales()}
    assert customers == {"5201": "Web Customer", "5202": "Web Customer", "5203": "Lee, Ann"}
    assert sorted(c["FullName"] for c in shop.company.customers()) == ["Lee, Ann", "Web Customer"]
    check_synced_order(shop.company, make_order(5201, customer=GUEST), customer="Web Customer")
    check_synced_order(shop.company, make_order(5203, customer=ANN), customer="Lee, Ann")
    shop.assert_every_request_valid()


@ON_TWO_COMPANIES
def test_guest_checkouts_share_web_guests_by_default_and_each_sale_names_its_buyer(shop):
    """The default: a guest (30 % of a typical shop's orders, rarely back) is no new QuickBooks name, so a
    Pro/Premier company does not fill its 14,500 names; the sale itself keeps who bought and where to."""
    gus = dataclasses.replace(GUEST, billing=Address(
        first_name="Gus", last_name="Guest", line1="1 Elm St", city="Austin", state="TX", postcode="78701",
        country="US"))
    ida = Customer(storefront_id=None, email="ida@example.com", first_name="Ida", last_name="Ives",
                   is_guest=True, billing=Address(first_name="Ida", last_name="Ives", line1="2 Oak Ave"))
    shop.feed("order", make_order(5211, customer=gus, billing=gus.billing))
    shop.feed("order", make_order(5212, customer=ida, paid=False, billing=ida.billing))
    shop.feed("order", make_order(5213, customer=ANN))
    shop.sync()

    sales = {t["RefNumber"]: t for t in shop.sales()}
    assert {n: t["CustomerRef"]["FullName"] for n, t in sales.items()} == {
        "5211": "Web Guests", "5212": "Web Guests", "5213": "Lee, Ann"}
    assert (sales["5211"]["kind"], sales["5212"]["kind"]) == ("SalesReceipt", "Invoice")
    assert sales["5211"]["BillAddress"]["Addr1"] == "Gus Guest"
    assert sales["5211"]["BillAddress"]["City"] == "Austin"
    assert sales["5212"]["BillAddress"]["Addr1"] == "Ida Ives"
    assert sorted(c["FullName"] for c in shop.company.customers()) == ["Lee, Ann", "Web Guests"]
    # the other guest's unpaid invoice is the shared customer's open balance; the paid receipt adds nothing
    check_synced_order(shop.company, make_order(5211, customer=gus), customer="Web Guests",
                       open_balance="24.00")
    check_synced_order(shop.company, make_order(5212, customer=ida, paid=False), customer="Web Guests")
    check_synced_order(shop.company, make_order(5213, customer=ANN), customer="Lee, Ann")

    shop.configure(proxy_customer="")  # the merchant wants each guest as a customer
    shop.feed("order", make_order(5214, customer=gus))
    shop.sync()
    assert sorted(c["FullName"] for c in shop.company.customers()) == ["Guest, Gus", "Lee, Ann", "Web Guests"]
    check_synced_order(shop.company, make_order(5214, customer=gus), customer="Guest, Gus")
    shop.assert_every_request_valid()


@ON_TWO_COMPANIES
def test_a_web_guests_customer_qbsync_did_not_add_is_used_only_when_a_person_names_it(shop):
    """qbsync's default proxy name is no proof: a QuickBooks customer of that name made by hand (or by
    another tool) takes no sale; guests get a customer of qbsync's own. A name the merchant saves is."""
    theirs = shop.in_quickbooks("CustomerAdd", {"Name": "Web Guests"})
    shop.feed("order", make_order(5221, customer=GUEST))
    shop.sync()

    (sale,) = shop.sales()
    ours = sale["CustomerRef"]["FullName"]
    assert ours.startswith("Web Guests (") and sale["CustomerRef"]["ListID"] != theirs["ListID"]
    check_synced_order(shop.company, make_order(5221, customer=GUEST), customer=ours)
    (job,) = shop.jobs(QueueJob.kind == "customer")
    link = shop.mapping("customer", job.record_id)
    assert link is not None and link.qb_name == ours
    assert "nobody chose it for guest checkouts" in link.rename_reason
    assert "change this link on the mappings page" in link.rename_reason

    counter = shop.in_quickbooks("CustomerAdd", {"Name": "Counter Sales"})
    shop.configure(proxy_customer="Counter Sales")  # the merchant names their own: that is proof
    shop.feed("order", make_order(5222, customer=GUEST))
    shop.sync()
    sale = next(t for t in shop.sales() if t["RefNumber"] == "5222")
    assert sale["CustomerRef"]["ListID"] == counter["ListID"]
    assert sorted(c["FullName"] for c in shop.company.customers()) == ["Counter Sales", "Web Guests", ours]
    check_synced_order(shop.company, make_order(5222, customer=GUEST), customer="Counter Sales")
    shop.assert_every_request_valid()


@ON_TWO_COMPANIES
def test_a_guest_whose_e_mail_is_a_quickbooks_customers_is_booked_to_that_customer(shop):
    """A trade customer checking out without signing in: the same e-mail proves the QuickBooks customer is
    theirs, so the order is on their account (their statement, their sales history), not on Web Guests;
    the customer is referred to, never changed. A guest whose e-mail nobody has goes to Web Guests, and so
    does one whose name alone is a QuickBooks customer's (a name is no proof)."""
    trade = shop.in_quickbooks("CustomerAdd", {"Name": "Acme Supply", "Email": "GUEST@example.com"})
    shop.in_quickbooks("CustomerAdd", {"Name": "Ives, Ida", "Email": "ida.ives@example.org"})
    ida = Customer(storefront_id=None, email="ida@example.com", first_name="Ida", last_name="Ives",
                   is_guest=True)
    nobody = dataclasses.replace(GUEST, email="nobody@example.com")
    shop.feed("order", make_order(5231, customer=GUEST, paid=False))
    shop.feed("order", make_order(5232, customer=nobody, paid=False))
    shop.feed("order", make_order(5233, customer=ida))
    shop.sync()

    customers = {t["RefNumber"]: t["CustomerRef"]["FullName"] for t in shop.sales()}
    assert customers == {"5231": "Acme Supply", "5232": "Web Guests", "5233": "Web Guests"}
    check_synced_order(shop.company, make_order(5231, customer=GUEST, paid=False), customer="Acme Supply")
    check_synced_order(shop.company, make_order(5232, customer=nobody, paid=False), customer="Web Guests")
    assert shop.company.find("Customer", "Acme Supply")["EditSequence"] == trade["EditSequence"]
    assert shop.company.find("Customer", "Ives, Ida")["Balance"] == "0.00"
    names = sorted(c["FullName"] for c in shop.company.customers())
    assert names == ["Acme Supply", "Ives, Ida", "Web Guests"]
    assert shop.mapping("customer", "guest:guest@example.com").origin == "found"

    # Queued once the customer list is known: the guest's own customer is linked ahead of the order.
    shop.feed("order", make_order(5234, customer=dataclasses.replace(ida, email="IDA.IVES@example.org")))
    shop.sync()
    sale = next(t for t in shop.sales() if t["RefNumber"] == "5234")
    assert sale["CustomerRef"]["FullName"] == "Ives, Ida"
    assert len(shop.company.customers()) == 3
    (linked,) = [j for j in shop.jobs(QueueJob.kind == "customer") if j.payload.get("by_email")]
    assert linked.state == "done" and "pulled customer list" in linked.reason
    shop.assert_every_request_valid()


@ON_TWO_COMPANIES
def test_a_guests_customer_typed_into_quickbooks_after_the_list_was_read_leaves_web_guests_unadded(shop):
    """The customer list was read; then the bookkeeper typed the guest's trade customer into QuickBooks. Her
    order goes on that customer, and Web Guests, which nothing uses, is not added to QuickBooks."""
    shop.feed("order", make_order(5240, customer=ANN))
    shop.sync()  # the first contact reads the customer list
    shop.in_quickbooks("CustomerAdd", {"Name": "Acme Supply", "Email": "guest@example.com"})
    shop.feed("order", make_order(5241, customer=GUEST))
    shop.sync()

    sale = next(t for t in shop.sales() if t["RefNumber"] == "5241")
    assert sale["CustomerRef"]["FullName"] == "Acme Supply"
    assert sorted(c["FullName"] for c in shop.company.customers()) == ["Acme Supply", "Lee, Ann"]
    assert not [r for r in shop.requests("CustomerAddRq") if "Web Guests" in r]
    check_synced_order(shop.company, make_order(5241, customer=GUEST), customer="Acme Supply")
    assert {j.state for j in shop.jobs()} == {"done"}
    shop.assert_every_request_valid()


@ON_TWO_COMPANIES
def test_a_guests_e_mail_proves_a_customer_only_when_it_names_one_active_customer(shop):
    """QuickBooks copies a customer's e-mail onto its jobs: the e-mail still names the customer. Two
    customers of their own sharing an address (an office's) prove neither, and a customer the merchant
    made inactive gets no new sales: those guests go to Web Guests."""
    acme = shop.in_quickbooks("CustomerAdd", {"Name": "Acme Supply", "Email": "buyer@acme.test"})
    shop.in_quickbooks("CustomerAdd", {"Name": "Website", "Email": "buyer@acme.test",
                                       "ParentRef": {"ListID": acme["ListID"]}})
    shop.in_quickbooks("CustomerAdd", {"Name": "North Office", "Email": "office@shared.test"})
    shop.in_quickbooks("CustomerAdd", {"Name": "South Office", "Email": "office@shared.test"})
    shop.in_quickbooks("CustomerAdd", {"Name": "Old Trade", "Email": "old@trade.test", "IsActive": "false"})
    for number, email in ((5251, "buyer@acme.test"), (5252, "office@shared.test"), (5253, "old@trade.test")):
        shop.feed("order", make_order(number, customer=dataclasses.replace(GUEST, email=email), paid=False))
    shop.sync()

    whose = {t["RefNumber"]: t["CustomerRef"]["FullName"] for t in shop.sales()}
    assert whose == {"5251": "Acme Supply", "5252": "Web Guests", "5253": "Web Guests"}
    books = shop.company.books()
    assert books.customer_balance.get("Acme Supply:Website", Decimal(0)) == 0
    assert books.customer_balance.get("North Office", Decimal(0)) == 0
    assert books.customer_balance.get("Old Trade", Decimal(0)) == 0
    shop.assert_every_request_valid()


@ON_TWO_COMPANIES
def test_a_guests_customer_deleted_in_quickbooks_after_the_list_was_read_leaves_the_order_on_web_guests(shop):
    """The pulled list still has Acme Supply, deleted in QuickBooks since: the sale's add is refused
    (3140) and the order is chosen a customer again, Web Guests, once; nothing is added for the guest."""
    shop.in_quickbooks("CustomerAdd", {"Name": "Acme Supply", "Email": "buyer@acme.test"})
    shop.sync()  # the first contact pulls the customer list
    store = shop.company.store
    store.delete(store.by_name(("Customer",), "Acme Supply"))  # by hand, in QuickBooks
    order = make_order(5261, customer=dataclasses.replace(GUEST, email="buyer@acme.test"), paid=False)
    shop.feed("order", order)
    shop.sync()

    assert {t["RefNumber"]: t["CustomerRef"]["FullName"] for t in shop.sales()} == {"5261": "Web Guests"}
    check_synced_order(shop.company, order, customer="Web Guests")
    assert sorted(c["FullName"] for c in shop.company.customers()) == ["Web Guests"]
    assert len([j for j in shop.jobs(QueueJob.kind == "customer") if j.payload.get("by_email")]) <= 1
    shop.assert_every_request_valid()


@ON_TWO_COMPANIES
def test_a_customer_typed_into_quickbooks_since_the_list_was_read_takes_the_guests_order(shop):
    """The customer list was read; then the merchant types Ida Ives into QuickBooks, with her e-mail. Her
    order as a guest, with eleven other guests' (nobody's e-mail), lands on her customer, not on Web
    Guests: before the guests are given Web Guests for want of a customer with their e-mail, the
    customers changed in QuickBooks since the list was read are read, once for the whole round trip."""
    shop.sync()  # the first contact reads the customer list
    shop.in_quickbooks("CustomerAdd", {"Name": "Ives, Ida", "Email": "ida.ives@example.org"})  # by hand
    ida = dataclasses.replace(GUEST, email="IDA.IVES@example.org", first_name="Ida", last_name="Ives")
    orders = [make_order(5271, customer=ida, paid=False)] + [
        make_order(number, customer=dataclasses.replace(GUEST, email=f"guest{number}@example.com"))
        for number in range(5272, 5283)]
    for order in orders:
        shop.feed("order", order)
    shop.sync()

    whose = {t["RefNumber"]: t["CustomerRef"]["FullName"] for t in shop.sales()}
    assert whose == {"5271": "Ives, Ida", **{str(n): "Web Guests" for n in range(5272, 5283)}}
    check_synced_order(shop.company, orders[0], customer="Ives, Ida")
    reads = [sum("FromModifiedDate" in query for query in _requests_in(entry.request, "CustomerQueryRq"))
             for entry in shop.company.request_log]
    assert sum(reads) == 1, "one read of the changed customers for all twelve guest orders"
    shop.assert_every_request_valid()


def _requests_in(document: str, request_type: str) -> list[str]:
    """The requests of one type in one qbXML document the Web Connector sent."""
    from lxml import etree

    root = etree.fromstring(document.encode())
    return [etree.tostring(e, encoding="unicode") for e in root.iterfind(f"QBXMLMsgsRq/{request_type}")]


@ON_TWO_COMPANIES
def test_a_guest_order_keeps_its_customer_when_the_proxy_customer_changes_after_it(shop):
    """The merchant renames the guests' customer after Gus's order was invoiced to Web Guests. The new name
    is for orders that come after: Gus's edit, his payment and his refund stay on Web Guests, whose balance
    ends at zero; the new customer takes the next guest's order and nothing of Gus's."""
    order = make_order(5241, customer=GUEST, paid=False, status="on_hold")
    shop.configure(sync_order_statuses=["processing", "completed", "on_hold"])
    shop.feed("order", order)
    shop.sync()
    check_synced_order(shop.company, order, customer="Web Guests")

    shop.configure(sync_order_statuses=["processing", "completed", "on_hold"], proxy_customer="Shop Guests")
    line = dataclasses.replace(order.lines[0], quantity=Decimal(3), subtotal=Decimal("28.50"),
                               total=Decimal("28.50"))
    edited = dataclasses.replace(order, lines=(line,), subtotal=line.subtotal, total=Decimal("33.50"),
                                 paid=True, status="processing", date_paid=order.created_at,
                                 modified_at=order.modified_at + timedelta(hours=1))
    shop.feed("order", edited)
    shop.feed("order", make_order(5242, customer=dataclasses.replace(GUEST, email="next@example.com")))
    shop.sync()
    shop.feed("refund", Refund(
        storefront_id="951", order_id="5241", amount=Decimal("9.50"), reason="broken",
        lines=(RefundLine(product_id="101", sku="MUG-RED", quantity=Decimal(1), amount=Decimal("9.50"),
                          restock=False),),
        created_at=datetime(2024, 3, 5, 12, 0, tzinfo=UTC)))
    shop.sync()

    assert [a.status_code for a in shop.attempts("InvoiceModRq")] == [0]
    whose = {t["RefNumber"]: t["CustomerRef"]["FullName"] for t in shop.sales()}
    assert whose == {"5241": "Web Guests", "5242": "Shop Guests"}
    (payment,) = shop.company.transactions("ReceivePayment")
    (memo,) = shop.company.transactions("CreditMemo")
    assert payment["CustomerRef"]["FullName"] == memo["CustomerRef"]["FullName"] == "Web Guests"
    books = shop.company.books()
    assert books.customer_balance.get("Web Guests", Decimal(0)) == 0
    assert books.customer_credits.get("Web Guests", Decimal(0)) == 0
    assert books.customer_balance.get("Shop Guests", Decimal(0)) == 0
    check_order(shop.company, "5241", customer="Web Guests", sold="33.50", paid="33.50", open_balance="0.00",
                open_credits="0.00")
    check_order(shop.company, "R951", customer="Web Guests", credited="9.50", refunded="9.50",
                open_balance="0.00", open_credits="0.00")
    shop.assert_every_request_valid()


@ON_TWO_COMPANIES
def test_payment_methods_are_mapped_by_code_and_unknown_ones_left_out_with_a_note(shop):
    shop.configure(payment_method_map=["cod=Cash"])
    shop.feed("order", make_order(5301))
    shop.feed(
        "order",
        dataclasses.replace(make_order(5302), payment_method="bogus", payment_method_title="Bogus Gateway"),
    )
    shop.sync()

    methods = {t["RefNumber"]: (t.get("PaymentMethodRef") or {}).get("FullName") for t in shop.sales()}
    assert methods == {"5301": "Cash", "5302": None}
    note = shop.jobs(QueueJob.record_id == "5302", QueueJob.kind == "order")[0].reason
    assert "Bogus Gateway" in note and "payment_method_map" in note
    check_synced_order(shop.company, make_order(5301))
    shop.assert_every_request_valid()


@ON_TWO_COMPANIES
def test_without_creating_items_an_order_waits_for_a_person_and_says_which_item(shop):
    shop.configure(create_missing_items=False)
    shop.feed("order", make_order(5401, customer=ANN))
    shop.sync()

    (item_job,) = [j for j in shop.jobs(QueueJob.kind == "item") if j.record_id == "101"]
    assert item_job.state == "parked" and "'MUG-RED' is not in QuickBooks" in item_job.reason
    (order_job,) = shop.jobs(QueueJob.kind == "order")
    assert order_job.state == "waiting" and "MUG-RED" in order_job.reason
    assert not shop.sales()


@pytest.mark.parametrize("profile", ["retail", "multicurrency"])
def test_products_become_the_configured_item_types_with_their_accounts(shop):
    """One profile: about the retail company's inventory accounts (service has no inventory; the opening
    stock on other companies is in test_opening_stock.py)."""
    from qbsync.storefronts.records import Product

    shop.configure(item_type_service="non_inventory")
    shop.feed(
        "product",
        Product(
            product_id="1",
            sku="TEE",
            name="T-shirt",
            price=Decimal("20"),
            manages_stock=True,
            stock_quantity=Decimal(12),
            kind="inventory",
        ),
    )
    shop.feed(
        "product", Product(product_id="2", sku="EBOOK", name="E-book", price=Decimal("5"), kind="service")
    )
    shop.sync()

    tee, ebook = shop.company.find("Item", "TEE"), shop.company.find("Item", "EBOOK")
    assert tee["kind"] == "ItemInventory" and tee["QuantityOnHand"] == "12"
    assert tee["IncomeAccountRef"]["FullName"] == "Sales"  # the retail company's, chosen by the setup
    assert tee["AssetAccountRef"]["FullName"] == "Inventory Asset"
    assert ebook["kind"] == "ItemNonInventory"
    shop.assert_every_request_valid()


@pytest.mark.parametrize(
    ("scheme", "expected"),
    [
        ("company", "Acme Ltd"),
        ("last_first", "Lee, Ann"),
        ("first_last", "Ann Lee"),
        ("email", "ann@example.com"),
    ],
)
def test_customer_name_schemes(scheme, expected):
    customer = Customer(storefront_id=None, first_name="Ann", last_name="Lee", company="Acme Ltd",
                        email="ann@example.com")
    assert naming.customer_base_name(customer, scheme) == expected


def test_names_and_numbers_fit_quickbooks_limits():
    long_name = Customer(storefront_id=None, first_name="Bartholomew-Alexander",
                         last_name="Featherstonehaugh-Cholmondeley")
    name = naming.customer_base_name(long_name, "last_first")
    assert len(name) <= 41
    suffixed = naming.with_suffix(name, "123456789")
    assert len(suffixed) <= 41 and suffixed.endswith("(123456789)")
    cut = naming.item_name(Product(product_id="", sku="X" * 40, name="Widget"), "sku")
    assert len(cut) == 31 and cut.startswith("X" * 24 + "~")
    assert cut != naming.item_name(Product(product_id="", sku="X" * 39 + "Y", name="Widget"), "sku")
    assert naming.item_name(Product(product_id="", name="Widget: large"), "sku") == "Widget- large"
    assert naming.ref_number("1234567890123") == "34567890123"
    assert naming.ref_number("1001", "WC-") == "WC-1001"


def test_every_setting_has_a_default_help_and_a_valid_value():
    from qbsync.queue.settings import DEFINITIONS

    for setting in DEFINITIONS:
        assert setting.help.strip().endswith(".") or setting.help.strip().endswith(")"), setting.name
        assert setting.parse(setting.default) == setting.default or isinstance(setting.default, tuple)
    with pytest.raises(ValueError, match="tax_mode"):
        validate_overrides({"tax_mode": "guess"})
    assert rules.order_txn_type(make_order(1, status="completed"), SyncSettings()) == "SalesReceipt"
