"""The company setup page and settings checked against the company's lists on save (issue 15)."""

from __future__ import annotations

from sqlalchemy import select

from qbsync.queue import lists, setup
from qbsync.queue.settings import DEFINITIONS
from qbsync.service.pages.settings import shown
from qbsync.storage.models import Connection, QueueJob, StorefrontRecord, utcnow
from tests.pages.conftest import flashes, post, text_of

# A merchant's own chart, as QuickBooks answers AccountQuery / ItemQuery / SalesTaxCodeQuery.
COMPANY = {
    "Account": [("AccountRet", {"ListID": f"A{n}", "FullName": name, "AccountType": kind,
                                **({"SpecialAccountType": special} if special else {})})
                for n, (name, kind, special) in enumerate([
                    ("Checking", "Bank", None),
                    ("Undeposited Funds", "OtherCurrentAsset", "UndepositedFunds"),
                    ("Stock on Hand", "OtherCurrentAsset", "InventoryAssets"),
                    ("State Tax Liability", "OtherCurrentLiability", "SalesTaxPayable"),
                    ("Sales Income", "Income", None), ("Freight Income", "Income", None),
                    ("Cost of Sales", "CostOfGoodsSold", "CostOfGoodsSold")])],
    "Item": [("ItemSalesTaxRet", {"ListID": "I1", "Name": "State Sales Tax",
                                  "TaxVendorRef": {"FullName": "Dept. of Revenue"}})],
    "SalesTaxCode": [("SalesTaxCodeRet", {"ListID": "T1", "Name": "Txb", "IsTaxable": "true"}),
                     ("SalesTaxCodeRet", {"ListID": "T2", "Name": "Ex", "IsTaxable": "false"})],
    "PaymentMethod": [("PaymentMethodRet", {"ListID": "P1", "Name": "Visa", "PaymentMethodType": "Visa"})],
    "Vendor": [("VendorRet", {"ListID": "V1", "Name": "Dept. of Revenue"})],
}


def read_company(runtime, connection_id: int) -> None:
    """As the first session's list refresh leaves it."""
    now = utcnow()
    with runtime.db.transaction() as session:
        for list_type, records in COMPANY.items():
            lists.store_page(session, connection_id, list_type, records, now)
            lists.mark_refreshed(session, connection_id, list_type, now)
        lists.store_company(session, connection_id, "Host", {"ProductName": "QuickBooks Premier 2023",
                                                             "Country": "US"})


def _settings(runtime) -> dict:
    with runtime.db.transaction() as session:
        return dict(session.scalar(select(Connection)).settings or {})


def test_before_the_first_session_the_page_says_the_company_was_not_read(signed_in, conn):
    page = text_of(signed_in.get("/company-setup/shop"))
    assert "QuickBooks' lists have not been read yet" in page
    assert "review the company setup" not in text_of(signed_in.get("/connections/shop"))


def test_the_page_proposes_a_record_of_the_right_type_or_to_create_one(signed_in, conn, runtime):
    read_company(runtime, conn.id)
    assert "review the company setup" in text_of(signed_in.get("/connections/shop"))

    response = signed_in.get("/company-setup/shop")
    html = response.get_data(as_text=True)
    page = text_of(response)
    assert "QuickBooks Premier 2023 · US" in page
    assert "agencies: Dept. of Revenue" in page
    assert '<option value="Freight Income" selected>Freight Income</option>' in html  # shipping_account
    assert '<option value="Sales Income" selected>Sales Income</option>' in html  # income_account
    assert '<option value="Cost of Sales" selected>Cost of Sales</option>' in html  # by special type
    assert '<option value="__create__" selected>Create in QuickBooks: Sales Discounts</option>' in html
    assert ('<option value="__create__" selected>Create in QuickBooks: Shipping (when an order first needs '
            'it)</option>') in html
    assert "QuickBooks has no account 'Shipping and Delivery Income'; 'Freight Income' fits" in page


def test_saving_stores_the_choices_marks_them_reviewed_and_queues_the_setup(signed_in, conn, runtime):
    read_company(runtime, conn.id)
    response = post(signed_in, "/company-setup/shop", {
        "choice-shipping_account": "Sales Income", "choice-discount_account": "__create__",
        "choice-non_taxable_code": "Ex"})
    assert response.status_code == 302
    assert "added to QuickBooks at the next Web Connector session" in flashes(signed_in)[0][1]
    stored = _settings(runtime)
    assert stored["shipping_account"] == "Sales Income"
    assert stored["discount_account"] == "Sales Discounts"
    with runtime.db.transaction() as session:
        assert set(setup.state(session, conn.id)["reviewed"]) == {"shipping_account", "discount_account",
                                                                  "non_taxable_code"}
        (job,) = session.scalars(select(QueueJob).where(QueueJob.kind == "company_setup")).all()
        assert job.state == "pending"
    page = signed_in.get("/company-setup/shop").get_data(as_text=True)
    row = page.split("need-shipping_account")[1]
    assert '<option value="Sales Income" selected>Sales Income</option>' in row


def test_a_name_the_company_lacks_is_refused_and_nothing_saved(signed_in, conn, runtime):
    read_company(runtime, conn.id)
    response = post(signed_in, "/company-setup/shop", {"choice-shipping_account": "Nonexistent"})
    assert response.status_code == 400
    assert "shipping_account" not in _settings(runtime)


def test_the_setup_page_needs_the_csrf_token(signed_in, conn, runtime):
    read_company(runtime, conn.id)
    response = signed_in.post("/company-setup/shop", data={"choice-shipping_account": "Sales Income"})
    assert response.status_code == 400
    assert "shipping_account" not in _settings(runtime)


def _form(**changes):
    form = {s.name: shown(s.default) for s in DEFINITIONS}
    form.update(changes)
    return form


def test_settings_naming_what_quickbooks_lacks_are_refused_with_the_closest_match(signed_in, conn, runtime):
    read_company(runtime, conn.id)
    # Every other field still shows a default the company lacks ("Merchandise Sales"...): only what changed
    # is judged, so those do not stop the save.
    response = post(signed_in, "/settings/shop", _form(shipping_account="Freight Incme", batch_size="50"))
    assert response.status_code == 400
    page = text_of(response)
    assert "QuickBooks has no account 'Freight Incme'; did you mean 'Freight Income'" in page
    assert _settings(runtime) == {}

    response = post(signed_in, "/settings/shop", _form(shipping_account="Cost of Sales"))
    assert ("'Cost of Sales' in QuickBooks is CostOfGoodsSold, which cannot be the income account for "
            "shipping" in text_of(response))

    response = post(signed_in, "/settings/shop", _form(shipping_account="Freight Income", batch_size="50"))
    assert response.status_code == 302
    assert _settings(runtime) == {"shipping_account": "Freight Income", "batch_size": 50}


def test_a_ref_number_prefix_that_leaves_no_room_for_the_order_number_is_refused(signed_in, conn, runtime):
    with runtime.db.transaction() as session:
        session.add(StorefrontRecord(connection_id=conn.id, record_type="order", record_id="9",
                                     data={"number": "100234"}, updated_at=utcnow()))
    response = post(signed_in, "/settings/shop", _form(ref_number_prefix="WEBSHOP-"))
    assert response.status_code == 400
    assert ("the prefix 'WEBSHOP-' leaves 3 for the order number, which needs 6 here; use at most 5 "
            "characters" in text_of(response))
    assert _settings(runtime) == {}
    assert post(signed_in, "/settings/shop", _form(ref_number_prefix="WEB-")).status_code == 302
    assert _settings(runtime) == {"ref_number_prefix": "WEB-"}


def test_the_dashboard_points_at_the_setup_until_it_is_reviewed(signed_in, conn, runtime):
    read_company(runtime, conn.id)
    with runtime.db.transaction() as session:
        setup.record(session, conn.id, "shipping_account", "Freight Income", "chosen")
        setup.record(session, conn.id, "discount_account", "Sales Discounts", "created")
    page = text_of(signed_in.get("/"))
    assert "QuickBooks was read: qbsync chose 1 of its records for the sync settings and created 1." in page
    assert "Review the company setup" in page
    post(signed_in, "/company-setup/shop", {"choice-shipping_account": "Freight Income"})
    assert "QuickBooks was read" not in text_of(signed_in.get("/"))
