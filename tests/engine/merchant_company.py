"""A simulated company whose chart of accounts, items and tax codes are the merchant's own.

The standard simulated company is seeded with the very names qbsync's defaults use; a merchant's company
file is not. This renames or removes those records so that no account, item or sales tax code qbsync's
defaults name is there (what ``QuickBooksCompany(profile="retail")`` will give once the profiles land).
"""

from __future__ import annotations

from qbsync.queue.settings import BY_NAME
from qbsync.simulator.company import QuickBooksCompany
from qbsync.simulator.company_store import ITEM_KINDS

# default name -> the merchant's own name (None: the company has no such record)
ACCOUNTS = {
    "Merchandise Sales": None,
    "Sales": "Sales Income",
    "Cost of Goods Sold": "Cost of Sales",
    "Inventory Asset": "Stock on Hand",
    "Shipping and Delivery Income": "Freight Income",
    "Sales Discounts": None,
    "Sales Tax Payable": "State Tax Liability",
    "Inventory Adjustments": "Shrinkage",
    "Opening Balance Equity": "Owner Opening Balances",  # QuickBooks' own (SpecialAccountType), renamed
}
ITEMS = {"Shipping": None}
TAX_CODES = {"Tax": "Txb", "Non": "Ex"}
NAMED_BY_DEFAULTS = (
    "income_account", "cogs_account", "asset_account", "shipping_account", "discount_account", "tax_account",
    "inventory_adjustment_account", "opening_balance_account", "shipping_item", "fee_item", "discount_item",
    "tax_item", "adjustment_item",
    "taxable_code", "non_taxable_code",
)


def make_merchant_company(company: QuickBooksCompany) -> QuickBooksCompany:
    """Rename or remove, in place, every record of ``company`` that a qbsync default names."""
    store = company.store
    for kinds, renames in ((("Account",), ACCOUNTS), (("ItemOtherCharge",), ITEMS),
                           (("SalesTaxCode",), TAX_CODES)):
        for old, new in renames.items():
            record = store.by_name(kinds, old)
            if record is None:
                continue
            if new is None:
                store.delete(record)
            else:
                record.data["Name"] = new
                store.touch(record)
    for setting in NAMED_BY_DEFAULTS:
        default = str(BY_NAME[setting].default)
        for kinds in (("Account",), ("SalesTaxCode",), ITEM_KINDS):
            assert store.by_name(kinds, default) is None, f"{default!r} ({setting}) is still in the company"
    return company
