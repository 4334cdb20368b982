"""Sync settings per connection: every name, its default, and a sentence on what it does.

Only overrides are stored (``Connection.settings``); reading a connection's settings merges them over
the defaults, so a new setting never needs a data migration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One setting's definition."""

    name: str
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    group: str = "General"
    check: Callable[[Any], Any] | None = None  # raises ValueError with the reason for a bad value

    def parse(self, raw: Any) -> Any:
        """Turn a form or CLI value into the setting's type, or raise ValueError with a reason."""
        if isinstance(self.default, bool):
            if isinstance(raw, bool):
                value: Any = raw
            elif str(raw).lower() in ("1", "true", "yes", "on"):
                value = True
            elif str(raw).lower() in ("0", "false", "no", "off", ""):
                value = False
            else:
                raise ValueError(f"{self.name} must be yes or no, not {raw!r}")
        elif isinstance(self.default, int):
            try:
                value = int(raw)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{self.name} must be a whole number, not {raw!r}") from exc
            if value < 0:
                raise ValueError(f"{self.name} must not be negative")
        elif isinstance(self.default, list | tuple):
            if isinstance(raw, str):
                value = [part.strip() for part in raw.split(",") if part.strip()]
            else:
                value = list(raw)
        else:
            value = "" if raw is None else str(raw)
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{self.name} must be one of {', '.join(map(str, self.choices))}, not {value!r}")
        if self.check is not None and value not in ("", None):
            self.check(value)
        return value


def _check_zone(value: Any) -> None:
    from qbsync.queue.dates import zone

    zone(str(value))


DEFINITIONS: list[Setting] = [
    Setting("batch_size", 200, "Most requests sent to QuickBooks in one Web Connector round trip.",
            group="Performance"),
    Setting("exchange_budget_ms", 2000,
            "Most milliseconds the service spends preparing one round trip, so each Web Connector call "
            "stays well under its timeout.", group="Performance"),
    Setting("max_message_bytes", 4_000_000, "Largest qbXML message sent in one round trip.",
            group="Performance"),
    Setting("shared_lookups", True,
            "Look-ups of one kind in one round trip share one QuickBooks query (e.g. one CustomerQuery "
            "naming every customer) instead of one query each.", group="Performance"),
    Setting("retry_base_seconds", 60, "First wait before retrying a request QuickBooks could not take "
            "(locked record, busy company file); doubles on each try.", group="Errors"),
    Setting("retry_max_seconds", 3600, "Longest wait between retries.", group="Errors"),
    Setting("busy_retries", 8, "How many times a request QuickBooks answered busy (a record or list in use, "
            "QuickBooks not available) is sent again before its job waits for a person (counted per "
            "request: a look-up and the add after it each have their own), with the fix named "
            "(8 is about 3 hours at the default waits); 0 retries for ever. A busy answer means QuickBooks "
            "did nothing with the request, so only this setting stops busy retries: "
            "corrective_after_sessions does not.", group="Errors"),
    Setting("corrective_after_sessions", 3, "After this many sessions in which a job failed (answered busy, "
            "an answer that could not be read or none at all), its corrective step runs once: the record "
            "is read again (a fresh EditSequence, whether an add happened after all, re-creating a "
            "deleted record) before its request is sent again. A request whose answer could not be read, "
            "or never came (QuickBooks or the session died on it), sent alone this many times in a row, "
            "waits for a person with the fix; a whole batch left unanswered is sent again, then split, "
            "never parked for it. Busy answers do not count towards this: busy_retries alone governs "
            "them. 0 turns both off (such a request is then retried for ever).", group="Errors"),
    Setting("lookup_before_add", "always",
            "Ask QuickBooks whether a record already exists before adding it: 'always', or 'when_unsure' "
            "(only after an answer was lost; customers and items then rely on QuickBooks' name check).",
            choices=("always", "when_unsure"), group="Errors"),
    # --- customers
    Setting("customer_name_scheme", "company",
            "How customers are named in QuickBooks: 'company' (company, else 'Last, First', else e-mail), "
            "'last_first', 'first_last' or 'email'.",
            choices=("company", "last_first", "first_last", "email"), group="Customers"),
    Setting("customer_name_add_id", True,
            "When the name is taken by a different customer (other e-mail) or by a vendor or employee, add "
            "the storefront id to it, e.g. 'Doe, John (1042)', instead of waiting for a person.",
            group="Customers"),
    Setting("match_customers_by_email", True,
            "Before adding a customer, link to a QuickBooks customer with the same e-mail address (from the "
            "customer list last pulled from QuickBooks). A guest checkout whose e-mail is a QuickBooks "
            "customer's goes on that customer, not on the proxy customer.", group="Customers"),
    # Guests by default share one customer: a guest rarely buys twice, and one customer per guest fills
    # QuickBooks Pro/Premier's 14,500 names (customers, vendors and employees together; Intuit, "Maximum
    # number of QuickBooks Desktop list entries"). Each sale still carries the buyer's name and addresses.
    Setting("proxy_customer", "Web Guests",
            "Record guest checkouts (or every order, see below) under this one QuickBooks customer instead "
            "of one customer per buyer; each sale still shows the buyer's name and addresses. Empty creates "
            "a customer per buyer. A change applies to orders that reach QuickBooks after it: a sale keeps "
            "its customer through its edits, payment, refunds and cancellation.", group="Customers"),
    Setting("proxy_customer_for", "guests",
            "Whether the proxy customer takes guest checkouts only ('guests') or every order ('all').",
            choices=("guests", "all"), group="Customers"),
    # --- items
    Setting("item_match", "sku",
            "Match store products to QuickBooks items by 'sku' (item name = SKU; one longer than 31 "
            "characters is cut and ends in '~' and a hash of the whole SKU; the product name when it has no "
            "SKU) or by product 'name'. The full SKU is kept in the item's barcode field; an existing item "
            "with a cut name is linked only when its barcode is the full SKU.", choices=("sku", "name"),
            group="Items"),
    Setting("item_type_inventory", "inventory",
            "QuickBooks item type for products whose stock the store tracks.",
            choices=("inventory", "non_inventory", "service"), group="Items"),
    Setting("item_type_non_inventory", "non_inventory",
            "QuickBooks item type for physical products whose stock the store does not track.",
            choices=("inventory", "non_inventory", "service"), group="Items"),
    Setting("item_type_service", "service",
            "QuickBooks item type for virtual or downloadable products.",
            choices=("inventory", "non_inventory", "service"), group="Items"),
    Setting("income_account", "Merchandise Sales", "Income account of the items qbsync creates.",
            group="Items"),
    Setting("cogs_account", "Cost of Goods Sold", "Cost of goods sold account of inventory items qbsync "
            "creates.", group="Items"),
    Setting("asset_account", "Inventory Asset", "Inventory asset account of inventory items qbsync creates.",
            group="Items"),
    Setting("create_missing_items", True,
            "Create QuickBooks items for products an order needs; when off, such an order waits for a person "
            "with the missing item named.", group="Items"),
    Setting("woocommerce_cost_meta_key", "_wc_cog_cost",
            "WooCommerce product meta field holding the product's cost (the opening value of the inventory "
            "items qbsync creates); '_wc_cog_cost' is the Cost of Goods extension's. Shopify's cost is "
            "the inventory item's cost.", group="Items"),
    Setting("update_items", True,
            "Send later product changes (description, price, active) to the linked QuickBooks item.",
            group="Items"),
    # --- orders
    Setting("sync_order_statuses", ["processing", "completed"],
            "Order statuses that bring an order into QuickBooks (pending, processing, on_hold, completed, "
            "cancelled, refunded, failed).", group="Orders"),
    Setting("exclude_zero_total_orders", True, "Leave orders whose total is zero out of QuickBooks.",
            group="Orders"),
    Setting("exclude_order_tag", "",
            "Leave out orders carrying this tag (or this text in the order note), like NumberCruncher's "
            "'NC Only'; empty excludes none.", group="Orders"),
    Setting("paid_order_as", "sales_receipt",
            "How a paid order is recorded: 'sales_receipt', 'invoice' (with a payment) or 'sales_order'.",
            choices=("sales_receipt", "invoice", "sales_order"), group="Orders"),
    Setting("unpaid_order_as", "invoice",
            "How an unpaid order is recorded: 'invoice', 'sales_order' or 'sales_receipt'.",
            choices=("invoice", "sales_order", "sales_receipt"), group="Orders"),
    Setting("order_type_by_status", [],
            "Exceptions by order status as status=type pairs, e.g. 'on_hold=sales_order'.", group="Orders"),
    Setting("ref_number_prefix", "",
            "Text put before the order number in QuickBooks' RefNumber (together at most 11 characters).",
            group="Orders"),
    Setting("shipping_item", "Shipping", "Other-charge item that carries shipping lines (created if "
            "missing).", group="Orders"),
    Setting("fee_item", "Fee", "Other-charge item that carries fee lines (created if missing).",
            group="Orders"),
    Setting("discount_item", "Discount", "Discount item that carries coupons and discounts (created if "
            "missing).", group="Orders"),
    Setting("tax_item", "Sales Tax",
            "Other-charge item that carries the sales tax of refunds (created if missing); order tax goes on "
            "sales tax items (see tax_mode).",
            group="Orders"),
    Setting("shipping_account", "Shipping and Delivery Income",
            "Income account of the shipping and fee items qbsync creates.", group="Orders"),
    Setting("discount_account", "Sales Discounts", "Account of the discount item qbsync creates.",
            group="Orders"),
    Setting("tax_account", "Sales Tax Payable",
            "Liability account of the refunds' tax item (tax_item) qbsync creates.", group="Orders"),
    Setting("gift_card_item", "Gift Card",
            "Other-charge item on which gift cards and store credit that paid an order are booked, as money "
            "taken out of the gift card liability, not income (created if missing).", group="Orders"),
    Setting("gift_card_account", "Gift Card Liability",
            "Liability account of the gift card item qbsync creates (an Other Current Liability).",
            group="Orders"),
    Setting("gift_card_skus", [],
            "SKUs of products that are gift cards, e.g. 'GIFT-25, GIFT-50' (WooCommerce has no standard mark "
            "for them; Shopify marks its own): sold, they are booked on gift_card_item, owed to the card's "
            "holder, never income and never stock.", group="Orders"),
    Setting("adjustment_item", "Rounding",
            "Other-charge item for the cent the storefront's own rounding leaves between its lines and its "
            "total (created if missing).", group="Orders"),
    Setting("tax_mode", "line",
            "'line': the store's tax amount of each rate on a line of a QuickBooks sales tax item (one per "
            "store rate, created if missing), so it reaches the sales tax liability and totals match to the "
            "cent; 'quickbooks': QuickBooks computes tax with the sales tax item below and the "
            "taxable/non-taxable codes. Canadian and UK company files: in either mode each line gets the "
            "company's tax code of the store's rate and QuickBooks computes GST/HST/VAT.",
            choices=("line", "quickbooks"), group="Orders"),
    Setting("tax_agency", "Sales Tax Agency",
            "Tax agency (QuickBooks vendor) the sales tax items qbsync creates are paid to (created if "
            "missing).", group="Orders"),
    Setting("line_tax_zero_item", "Store Tax On Lines",
            "0 % sales tax item named on each transaction in tax_mode 'line', so QuickBooks adds no tax of "
            "its own to the store's tax lines (created if missing).", group="Orders"),
    Setting("quickbooks_tax_item", "",
            "Sales tax item (ItemSalesTaxRef) for tax_mode 'quickbooks'; empty uses the customer's.",
            group="Orders"),
    Setting("taxable_code", "Tax", "QuickBooks sales tax code for taxable lines.",
            group="Orders"),
    Setting("non_taxable_code", "Non",
            "QuickBooks sales tax code for lines the store did not tax.",
            group="Orders"),
    Setting("payment_method_map", [],
            "Storefront payment method code=QuickBooks payment method pairs, e.g. 'stripe=Visa, bacs=Check'; "
            "others use the storefront's payment title.", group="Orders"),
    Setting("deposit_account", "",
            "Account sales receipts and payments are deposited to; empty uses QuickBooks' Undeposited Funds.",
            group="Orders"),
    Setting("sync_order_edits", True,
            "Send changes to an order already in QuickBooks (InvoiceMod/SalesReceiptMod); when off, the "
            "change is flagged for a person.", group="Orders"),
    Setting("void_cancelled_orders", True,
            "Void the QuickBooks transaction when its order is cancelled (or deleted) in the store; one "
            "with payments, refunds or a deposit against it is never voided: a credit memo dated the "
            "cancellation reverses what remains instead.",
            group="Orders"),
    Setting("sync_payments", True,
            "Record a payment (ReceivePayment) on the invoice when an invoiced order becomes paid.",
            group="Orders"),
    Setting("sync_refunds", True,
            "Record storefront refunds: a credit memo, and the money paid back (refund_paid_by) or the "
            "credit applied to the unpaid invoice.", group="Orders"),
    Setting("refund_paid_by", "credit_card_refund",
            "How money refunded on a paid order leaves the books: 'credit_card_refund' (QuickBooks' credit "
            "card refund, for card and online payments) or 'check'; either comes out of deposit_account "
            "(Undeposited Funds when empty) and pays out the refund's credit memo, so no open credit is "
            "left on the customer.", choices=("credit_card_refund", "check"), group="Orders"),
    Setting("restock_unknown_refunds", False,
            "When the store does not say whether refunded products went back to stock, count them back "
            "into QuickBooks' stock (yes) or not (no); what the store says always wins.", group="Orders"),
    # Apart from refunds because stores treat the two apart: WooCommerce restores stock on every
    # cancellation of an order it had taken stock for, but on a refund only when the person refunding
    # ticks "restock", so one merchant may want yes here and no there.
    Setting("restock_unknown_cancellations", False,
            "When the store does not say whether a cancelled order's products went back to stock (always "
            "so for WooCommerce, which restores stock on cancelling an order it had reduced stock for), "
            "count what was not refunded back into QuickBooks' stock on the cancellation's credit memo "
            "(yes) or not (no); what the store says always wins.", group="Orders"),
    Setting("store_timezone", "",
            "The shop's time zone (IANA name, e.g. America/New_York) that dates QuickBooks transactions; "
            "empty: the offset each order carries (WooCommerce date_created, Shopify created_at), else UTC.",
            group="Orders", check=_check_zone),
    # --- inventory
    Setting("stock_master", "quickbooks",
            "Which side is the master for stock: 'quickbooks' (quantities are pulled and written to the "
            "store), 'storefront' (store changes become inventory adjustments) or 'none'.",
            choices=("quickbooks", "storefront", "none"), group="Inventory"),
    Setting("stock_master_exceptions", [],
            "SKUs for which the other side is the master for stock.", group="Inventory"),
    Setting("stock_quantity", "on_hand",
            "Quantity written to the store: 'on_hand' (QuantityOnHand) or 'available' (on hand minus on "
            "sales orders).", choices=("on_hand", "available"), group="Inventory"),
    Setting("inventory_pull_minutes", 15,
            "Minutes between inventory pulls from QuickBooks (0: with every session that has other work).",
            group="Inventory"),
    Setting("inventory_full_pull_hours", 24,
            "Hours between full inventory pulls (0: every pull reads every item); in between only items "
            "changed since the last pull are read, as QuickBooks does not mark an item changed when a sale "
            "moves its quantity.", group="Inventory"),
    Setting("inventory_page_size", 100, "Items asked for per page when pulling inventory.",
            group="Inventory"),
    Setting("inventory_adjustment_account", "Inventory Adjustments",
            "Account for the inventory adjustments made from store stock changes.", group="Inventory"),
    Setting("opening_balance_account", "Opening Balance Equity",
            "Equity account that corrections of an item's opening stock post to (an order the store's count "
            "already had, reaching QuickBooks after the item was added), as QuickBooks posts the opening "
            "value of a new item to its Opening Balance Equity.", group="Inventory"),
    # --- reference lists
    Setting("list_refresh_hours", 24,
            "Hours between refreshes of QuickBooks' accounts, items, payment methods, tax codes and customer "
            "names (0: only when asked; the company is read anyway at the first session and whenever the Web "
            "Connector opens another company file).", group="Reference lists"),
    Setting("list_page_size", 500, "Records asked for per page when refreshing a reference list.",
            group="Reference lists"),
    # --- storefront
    Setting("sweep_interval_minutes", 15,
            "Minutes between checks of the store for changes whose webhook never arrived (WooCommerce does "
            "not retry failed deliveries; Shopify stops after a few hours). 0: only when asked "
            "(qbsync sweep).",
            group="Storefront"),
]

BY_NAME: dict[str, Setting] = {s.name: s for s in DEFINITIONS}


class SyncSettings(Mapping[str, Any]):
    """A connection's effective settings: stored overrides over the defaults."""

    def __init__(self, overrides: Mapping[str, Any] | None = None) -> None:
        self._overrides = dict(overrides or {})

    def __getitem__(self, name: str) -> Any:
        if name in self._overrides:
            return self._overrides[name]
        return BY_NAME[name].default

    def chosen(self, name: str) -> bool:
        """Whether the connection stores its own value for ``name`` (a person chose it; not the default)."""
        return name in self._overrides

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    def __iter__(self):
        return iter(BY_NAME)

    def __len__(self) -> int:
        return len(BY_NAME)


REF_NUMBER_LIMIT = 11  # InvoiceAdd/SalesReceiptAdd RefNumber in qbXML's field limits (naming.ref_number cuts)


def limit_errors(values: Mapping[str, Any], longest_order_number: int = 0) -> dict[str, str]:
    """Values QuickBooks' limits cannot take: a RefNumber prefix that leaves no room for the order number
    (``longest_order_number``: the most characters an order number of this store has had; at least one)."""
    errors: dict[str, str] = {}
    prefix = values.get("ref_number_prefix")
    if prefix:
        needed = max(1, longest_order_number)
        room = REF_NUMBER_LIMIT - len(str(prefix))
        if room < needed:
            errors["ref_number_prefix"] = (
                f"QuickBooks keeps {REF_NUMBER_LIMIT} characters of a RefNumber: the prefix {prefix!r} "
                "leaves "
                f"{max(room, 0)} for the order number, which needs {needed} here; use at most "
                f"{max(REF_NUMBER_LIMIT - needed, 0)} characters")
    return errors


def validate_overrides(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Parse submitted values; unknown names and bad values raise ValueError naming the setting."""
    parsed: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in BY_NAME:
            raise ValueError(f"unknown setting {name!r}")
        parsed[name] = BY_NAME[name].parse(value)
    return parsed
