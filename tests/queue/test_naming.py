"""Why a QuickBooks name differs from the store's, in a bookkeeper's words (pure)."""

from __future__ import annotations

from qbsync.queue import naming
from qbsync.storefronts.records import Customer, Product


def test_a_name_quickbooks_keeps_as_it_is_has_no_reason():
    assert naming.why_renamed("Lee, Ann", "Lee, Ann", "CustomerAdd/Name") is None
    assert naming.why_renamed("lee,  ann", "Lee, Ann", "CustomerAdd/Name") is None  # QuickBooks ignores case


def test_each_change_is_named():
    named = naming.item_name(Product(product_id="", sku="Mug: red", name=""), "sku")
    assert naming.why_renamed("Mug: red", named, "ItemInventoryAdd/Name") == (
        "characters changed: : → - (QuickBooks separates a record from its parent with ':')")
    record = Customer(storefront_id=None, first_name="Ann", last_name="Lee")
    euro = naming.with_suffix(naming.customer_base_name(record, "last_first"), "EUR")
    assert naming.why_renamed("Lee, Ann", euro, "CustomerAdd/Name", [("EUR", "it pays in euros")]) == (
        "suffix (EUR) added because it pays in euros")
    long = "A" * 38
    assert naming.why_renamed(long, naming.with_suffix(long, "7"), "CustomerAdd/Name", [("7", "taken")]) == (
        "cut to 41 characters to leave room for what is added in brackets; suffix (7) added because taken")
