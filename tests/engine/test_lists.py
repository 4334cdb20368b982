"""Reference lists pulled from QuickBooks into qb_list_entries (pages with iterators), refreshed on demand."""

from __future__ import annotations

import pytest
from lxml import etree
from sqlalchemy import select

from qbsync.queue import lists
from qbsync.storage.models import QbListEntry
from tests.accounting import check_synced_order
from tests.engine.conftest import make_order

# The lists are read from the retail company and the same shop with multicurrency on (whose lists the tests
# name: its tax item and agency); the tests that name none run on a service firm's company too.


def _entries(shop, list_type: str) -> dict[str, dict]:
    with shop.runtime.db.transaction() as session:
        rows = session.scalars(
            select(QbListEntry).where(
                QbListEntry.connection_id == shop.connection_id, QbListEntry.list_type == list_type
            )
        )
        return {row.full_name: dict(row.data) for row in rows}


@pytest.mark.parametrize("profile", ["retail", "multicurrency"])
def test_the_first_session_pulls_the_reference_lists(shop):
    shop.configure(list_page_size=2)
    for n in range(5):
        shop.in_quickbooks("CustomerAdd", {"Name": f"Customer {n}", "Email": f"c{n}@example.com"})
    with shop.runtime.db.transaction() as session:
        lists.request_refresh(session, shop.connection_id)
    shop.sync()

    assert "Sales" in _entries(shop, "Account")
    assert {"Cash", "Check", "Visa"} <= set(_entries(shop, "PaymentMethod"))
    assert set(_entries(shop, "SalesTaxCode")) == {"Tax", "Non"}
    assert _entries(shop, "Item")["State Tax"]["type"] == "ItemSalesTax"
    assert _entries(shop, "Item")["State Tax"]["TaxRate"] == "6.5"  # a Name, no FullName
    customers = _entries(shop, "Customer")
    assert customers["Customer 3"]["Email"] == "c3@example.com"
    pages = [etree.fromstring(r.encode()) for r in shop.requests("CustomerQueryRq")]
    assert [p.get("iterator") for p in pages] == ["Start", "Continue", "Continue"]
    shop.assert_every_request_valid()


@pytest.mark.parametrize("profile", ["retail", "service"])
def test_a_refresh_on_demand_drops_what_quickbooks_no_longer_has(shop):
    shop.in_quickbooks("CustomerAdd", {"Name": "Gone Soon"})
    with shop.runtime.db.transaction() as session:
        lists.request_refresh(session, shop.connection_id, ["Customer"])
    shop.sync()
    assert "Gone Soon" in _entries(shop, "Customer")

    store = shop.company.store
    store.delete(store.by_name(("Customer",), "Gone Soon"))
    with shop.runtime.db.transaction() as session:
        lists.request_refresh(session, shop.connection_id, ["Customer"])
    shop.sync()
    assert "Gone Soon" not in _entries(shop, "Customer")


@pytest.mark.parametrize("profile", ["retail", "service"])
def test_items_qbsync_creates_join_the_item_list_at_once(shop):
    """Issue 15 defect: the item list went stale after qbsync created items (pickers and the tax codes page
    said "not in QuickBooks" for them until the next refresh, a day later)."""
    shop.feed("order", make_order(1))
    shop.sync()

    (added,) = [a for a in shop.attempts("ItemNonInventoryAddRq") if a.status_code == 0]
    items = _entries(shop, "Item")
    assert items["MUG-RED"]["type"] == "ItemNonInventory"
    assert shop.company.find("ItemNonInventory", "MUG-RED") is not None
    # read once, before the item existed: the entry comes from the answer to the add
    item_queries = [r for r in shop.requests("ItemQueryRq") if "iterator" in r]
    assert len(item_queries) == 1
    check_synced_order(shop.company, make_order(1))


@pytest.mark.parametrize("profile", ["retail", "multicurrency"])
def test_the_first_session_reads_the_company_and_its_tax_agencies(shop):
    shop.sync()

    with shop.runtime.db.transaction() as session:
        host = lists.company(session, shop.connection_id, "Host")
        preferences = lists.company(session, shop.connection_id, "Preferences")
    assert host["Country"] == "US" and "13.0" in host["SupportedQBXMLVersion"]
    assert preferences["PurchasesAndVendorsPreferences"]["IsUsingInventory"] == "true"
    assert "State Department of Revenue" in _entries(shop, "Vendor")
    agency = _entries(shop, "Item")["State Tax"]["TaxVendorRef"]
    assert agency["FullName"] == "State Department of Revenue"
    assert "Sales Tax Payable" in _entries(shop, "Account")
    assert _entries(shop, "Account")["Inventory Asset"]["SpecialAccountType"] == "InventoryAssets"
    shop.assert_every_request_valid()
