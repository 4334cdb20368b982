"""Mappings: auto-map by e-mail/SKU/name (never over a person's choice), manual overrides, the pages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from qbsync.queue import automap
from qbsync.queue.automap import Candidate, StoreValue, match_values
from qbsync.storage.models import Connection, IdMapping
from tests.pages.conftest import flashes, post, text_of


def _mappings(runtime, record_type):
    with runtime.db.transaction() as session:
        rows = session.scalars(select(IdMapping).where(IdMapping.record_type == record_type)
                               .order_by(IdMapping.storefront_id))
        return {m.storefront_id: (m.qb_id, m.qb_name, m.manual) for m in rows}


def _settings(runtime):
    with runtime.db.transaction() as session:
        return session.scalar(select(Connection)).settings


def _candidate(qb_id, full_name, **keys):
    return Candidate("Customer", qb_id, full_name, {k: frozenset(v) for k, v in keys.items()})


def test_matching_takes_the_strongest_key_and_narrows_ties_with_weaker_ones():
    candidates = [
        _candidate("A", "Doe, Jane", email={"jane@example.com"}, name={"doe, jane", "jane doe"}),
        _candidate("B", "Jane Doe (2)", email={"jane@example.com"}, name={"jane doe (2)"}),
        _candidate("C", "Bob Roe", email={"bob@example.com"}, name={"bob roe"}),
        _candidate("D", "Ann Lee", email=set(), name={"ann lee"}),
        _candidate("E", "Ann Lee 2", email=set(), name={"ann lee"}),
    ]
    values = [
        StoreValue("1", "Jane Doe", "", (("email", "Jane@Example.com "), ("name", "Jane  Doe"))),
        StoreValue("2", "Bob", "", (("email", "BOB@example.com"),)),
        StoreValue("3", "Ann Lee", "", (("email", "ann@example.com"), ("name", "Ann Lee"))),
        StoreValue("4", "Nobody", "", (("email", "nobody@example.com"), ("name", "No Body"))),
    ]
    report = match_values(values, candidates)
    assert [(m.value.storefront_id, m.candidate.qb_id, m.by) for m in report.mapped] == [
        ("1", "A", "email"), ("2", "C", "email")]
    assert [(a.value.storefront_id, [c.qb_id for c in a.candidates]) for a in report.ambiguous] == [
        ("3", ["D", "E"])]
    assert [v.storefront_id for v in report.unmatched] == ["4"]


@pytest.fixture
def lists(conn, add_list_entry):
    add_list_entry(conn.id, "Customer", "80000001-1", "Doe, Jane", type="Customer", Email="jane@example.com")
    add_list_entry(conn.id, "Customer", "80000002-1", "Roe, Bob", type="Customer", Email="bob@example.com")
    add_list_entry(conn.id, "Customer", "80000003-1", "Old Customer", type="Customer",
                   Email="old@example.com", IsActive=False)
    add_list_entry(conn.id, "Item", "I-1", "Shirts:TSHIRT-RED-M", type="ItemInventory")
    add_list_entry(conn.id, "Item", "I-2", "MUG-01", type="ItemNonInventory")
    add_list_entry(conn.id, "Item", "I-3", "Sales Tax", type="ItemSalesTax")
    add_list_entry(conn.id, "PaymentMethod", "P-1", "Credit Card", type="PaymentMethod")
    add_list_entry(conn.id, "PaymentMethod", "P-2", "Check", type="PaymentMethod")
    add_list_entry(conn.id, "SalesTaxCode", "T-1", "Tax", type="SalesTaxCode")
    add_list_entry(conn.id, "SalesTaxCode", "T-2", "Non", type="SalesTaxCode")


@pytest.fixture
def store_records(conn, add_record):
    for record_id, email, first, last in (("11", "JANE@example.com", "Jane", "Doe"),
                                          ("12", "bob@example.com", "Bob", "Roe"),
                                          ("13", "old@example.com", "Old", "One")):
        add_record(conn.id, "customer", record_id, {"email": email, "first_name": first, "last_name": last})
    add_record(conn.id, "product", "21", {"sku": "tshirt-red-m", "name": "T-shirt red M"})
    add_record(conn.id, "product", "22", {"sku": "SALES TAX", "name": "A product called like the tax item"})
    add_record(conn.id, "order", "31", {"payment_method": "stripe", "payment_method_title": "Credit card",
                                        "tax_lines": [{"label": "CA State Tax", "rate_percent": "7.25"}]})
    add_record(conn.id, "order", "32", {"payment_method": "bacs",
                                        "payment_method_title": "Direct bank transfer"})


def test_automap_links_customers_by_email_and_products_by_sku(conn, lists, store_records, runtime):
    with runtime.db.transaction() as session:
        connection = session.get(Connection, conn.id)
        customers = automap.automap(session, connection, "customer")
        products = automap.automap(session, connection, "product")
    assert _mappings(runtime, "customer") == {"11": ("80000001-1", "Doe, Jane", False),
                                              "12": ("80000002-1", "Roe, Bob", False)}
    assert [v.storefront_id for v in customers.unmatched] == ["13"]  # inactive in QuickBooks
    # The tax item is never a product's item.
    assert _mappings(runtime, "product") == {"21": ("I-1", "Shirts:TSHIRT-RED-M", False)}
    assert customers.summary() == "2 mapped, 1 with no QuickBooks match."
    assert products.summary() == "1 mapped, 1 with no QuickBooks match."


def test_automap_never_replaces_a_mapping_a_person_set(signed_in, conn, lists, store_records, runtime):
    post(signed_in, "/mappings/shop/customer", {"sid:1": "11", "was:1": "", "qb:1": "Roe, Bob"})
    assert _mappings(runtime, "customer") == {"11": ("80000002-1", "Roe, Bob", True)}
    post(signed_in, "/mappings/shop/customer/automap")
    assert _mappings(runtime, "customer") == {"11": ("80000002-1", "Roe, Bob", True),
                                              "12": ("80000002-1", "Roe, Bob", False)}
    assert flashes(signed_in)[-1] == (
        "ok", "Auto-map: 1 mapped, 1 already mapped (left as they were), 1 with no QuickBooks match.")


def test_the_page_shows_store_and_quickbooks_side_by_side_with_unmapped_highlighted(
        signed_in, conn, lists, store_records, runtime):
    post(signed_in, "/mappings/shop/customer", {"sid:1": "12", "was:1": "", "qb:1": "Roe, Bob"})
    body = signed_in.get("/mappings/shop/customer").get_data(as_text=True)
    assert '<option value="Doe, Jane">' in body and '<option value="Roe, Bob">' in body
    assert body.count('<tr class="unmapped">') == 2  # Jane and Old are not mapped yet
    assert 'value="Roe, Bob" list="qb-names"' in body
    unmapped = text_of(signed_in.get("/mappings/shop/customer?show=unmapped"))
    assert "Jane Doe" in unmapped and "Bob Roe" not in unmapped
    assert "Bob Roe" in text_of(signed_in.get("/mappings/shop/customer?q=bob"))
    products = signed_in.get("/mappings/shop/product").get_data(as_text=True)
    assert '<option value="MUG-01">' in products and '<option value="Sales Tax">' not in products


def test_manual_mappings_can_be_changed_and_removed_and_unknown_names_are_refused(
        signed_in, conn, lists, store_records, runtime):
    post(signed_in, "/mappings/shop/product", {"sid:1": "21", "was:1": "", "qb:1": "mug-01"})
    assert _mappings(runtime, "product") == {"21": ("I-2", "MUG-01", True)}  # case-insensitive pick
    post(signed_in, "/mappings/shop/product", {"sid:1": "21", "was:1": "MUG-01", "qb:1": "No Such Item"})
    assert flashes(signed_in)[-1] == ("error", "Not saved: QuickBooks has no item named 'No Such Item' "
                                               "(refresh the lists from QuickBooks if it is new).")
    assert _mappings(runtime, "product") == {"21": ("I-2", "MUG-01", True)}
    post(signed_in, "/mappings/shop/product", {"sid:1": "21", "was:1": "MUG-01", "qb:1": ""})
    assert _mappings(runtime, "product") == {}


def test_payment_methods_map_into_the_setting_the_engine_reads(signed_in, conn, lists, store_records,
                                                              runtime):
    page = text_of(signed_in.get("/mappings/shop/payment_method"))
    assert "Credit card" in page and "Direct bank transfer" in page
    post(signed_in, "/mappings/shop/payment_method/automap")
    assert _settings(runtime)["payment_method_map"] == ["stripe=Credit Card"]
    post(signed_in, "/mappings/shop/payment_method", {"sid:1": "bacs", "was:1": "", "qb:1": "Check"})
    assert _settings(runtime)["payment_method_map"] == ["bacs=Check", "stripe=Credit Card"]
    post(signed_in, "/mappings/shop/payment_method", {"sid:1": "stripe", "was:1": "Credit Card", "qb:1": ""})
    assert _settings(runtime)["payment_method_map"] == ["bacs=Check"]


def test_tax_codes_are_picked_from_quickbooks_lists(signed_in, conn, lists, store_records, runtime):
    body = signed_in.get("/mappings/shop/tax").get_data(as_text=True)
    assert '<option value="Tax" selected>Tax</option>' in body
    assert '<option value="Sales Tax" >Sales Tax</option>' in body
    assert "CA State Tax (7.25 %)" in text_of(signed_in.get("/mappings/shop/tax"))
    post(signed_in, "/mappings/shop/tax", {"taxable_code": "Non", "non_taxable_code": "Non",
                                           "quickbooks_tax_item": "Sales Tax"})
    assert _settings(runtime) == {"taxable_code": "Non", "quickbooks_tax_item": "Sales Tax"}


def test_automap_without_quickbooks_lists_says_what_to_do(signed_in, conn, store_records, runtime):
    post(signed_in, "/mappings/shop/customer/automap")
    assert "No QuickBooks list has been pulled yet" in flashes(signed_in)[-1][1]
    assert _mappings(runtime, "customer") == {}


def test_the_list_shows_customers_linked_through_orders_and_searches_by_email_and_quickbooks_name(
        signed_in, conn, lists, store_records, runtime):
    with runtime.db.transaction() as session:  # a guest linked while syncing an order: no customer record
        session.add(IdMapping(connection_id=conn.id, record_type="customer",
                              storefront_id="guest:ann@example.com", qb_type="Customer", qb_id="80000009-1",
                              qb_name="Ann Guest"))
    response = signed_in.get("/mappings/shop/customer")
    page = text_of(response)
    assert "guest:ann@example.com" in page and "automatic, through orders" in page
    assert 'value="Ann Guest"' in response.get_data(as_text=True)  # the QuickBooks name, editable
    assert "Jane Doe" in page  # the store's own customers are still there
    by_qb_name = text_of(signed_in.get("/mappings/shop/customer?q=ann guest"))
    assert "guest:ann@example.com" in by_qb_name and "Jane Doe" not in by_qb_name
    by_email = text_of(signed_in.get("/mappings/shop/customer", query_string={"q": "jane@EXAMPLE"}))
    assert "Jane Doe" in by_email and "guest:ann" not in by_email
    assert "guest:ann" not in text_of(signed_in.get("/mappings/shop/customer?show=unmapped"))
