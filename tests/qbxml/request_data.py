"""Ordinary request data for every template, and a hostile twin of it built by walking the schema.

Ordinary data is what a storefront sync really sends. The hostile twin replaces every text with markup
characters, accents, emoji, control characters and 300 characters, every amount with a huge negative one,
every price / quantity with too many decimals, and adds explicit Nones for optional fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from qbsync.qbxml.fields import Field, Kind, catalog

LIST_ID = "80000001-1415713663"
TXN_ID = "C5-1417118624"
EDIT_SEQUENCE = "1415713663"
GUID = "{eb05f701-e727-472f-8ade-6753c4f67a46}"

ADDRESS = {
    "Addr1": "1234 Awesome Street",
    "Addr2": "Suite 5",
    "City": "Hollywood",
    "State": "CA",
    "PostalCode": "90210",
    "Country": "USA",
}
ITEM = {"FullName": "SPREE-T-SHIRT"}
TAX = {"FullName": "Tax"}
NON = {"FullName": "Non"}

CUSTOMER = {
    "Name": "Jane Doe (jane@example.com)",
    "IsActive": True,
    "CompanyName": "Doe & Sons",
    "Salutation": "Ms.",
    "FirstName": "Jane",
    "MiddleName": "Q",
    "LastName": "Doe",
    "JobTitle": "Owner",
    "BillAddress": ADDRESS,
    "ShipAddress": {**ADDRESS, "Addr1": "1 Dock Road", "Note": "Leave at door"},
    "ShipToAddress": [{"Name": "Warehouse", **ADDRESS, "DefaultShipTo": True}],
    "PrintAs": "Jane Doe",
    "Phone": "+1 555 0100",
    "Mobile": "+1 555 0101",
    "AltPhone": "555-0102",
    "Fax": "555-0103",
    "Email": "jane@example.com",
    "Cc": "books@example.com",
    "Contact": "Jane Doe",
    "AltContact": "John Doe",
    "CustomerTypeRef": {"FullName": "Web"},
    "TermsRef": {"FullName": "Net 30"},
    "SalesRepRef": {"FullName": "JD"},
    "SalesTaxCodeRef": TAX,
    "ItemSalesTaxRef": {"FullName": "CA tax"},
    "SalesTaxCountry": "US",
    "ResaleNumber": "R-1",
    "AccountNumber": "WC-1001",
    "CreditLimit": Decimal("500"),
    "PreferredPaymentMethodRef": {"FullName": "Visa"},
    "Notes": "First order\nfrom the web shop",
    "PreferredDeliveryMethod": "Email",
    "PriceLevelRef": {"FullName": "Retail"},
    "TaxRegistrationNumber": "TR-1",
    "CurrencyRef": {"FullName": "US Dollar"},
}
CUSTOMER_ADD = {
    **CUSTOMER,
    "ClassRef": {"FullName": "Web"},
    "OpenBalance": Decimal("12.5"),
    "OpenBalanceDate": dt.date(2024, 3, 1),
    "ExternalGUID": GUID,
    "IncludeRetElement": ["ListID", "EditSequence"],
}
CUSTOMER_MOD = {
    "ListID": LIST_ID,
    "EditSequence": EDIT_SEQUENCE,
    **CUSTOMER,
    "ParentRef": {"ListID": LIST_ID},
}

BARCODE = {"BarCodeValue": "0123456789012", "AssignEvenIfUsed": False, "AllowOverride": True}
INVENTORY = {
    "Name": "SPREE-T-SHIRT",
    "BarCode": BARCODE,
    "IsActive": True,
    "ManufacturerPartNumber": "MPN-1",
    "IsTaxIncluded": False,
    "SalesTaxCodeRef": TAX,
    "SalesDesc": "Awesome T-Shirt\nCotton",
    "SalesPrice": Decimal("19.99"),
    "IncomeAccountRef": {"FullName": "Merchandise Sales"},
    "PurchaseDesc": "T-Shirt",
    "PurchaseCost": "4.00",
    "COGSAccountRef": {"FullName": "Cost of Goods Sold"},
    "PrefVendorRef": {"FullName": "Shirt Co"},
    "AssetAccountRef": {"FullName": "Inventory Asset"},
    "ReorderPoint": 5,
    "Max": 100,
}
INVENTORY_ADD = {
    **INVENTORY,
    "QuantityOnHand": 12,
    "TotalValue": Decimal("48"),
    "InventoryDate": "2024-03-01",
    "ExternalGUID": GUID,
}
INVENTORY_MOD = {
    "ListID": LIST_ID,
    "EditSequence": EDIT_SEQUENCE,
    **INVENTORY,
    "ApplyIncomeAccountRefToExistingTxns": False,
}

SALES_OR_PURCHASE = {"Desc": "Gift wrap", "Price": Decimal("2.5"), "AccountRef": {"FullName": "Sales"}}
SALES_AND_PURCHASE = {
    "SalesDesc": "Mug",
    "SalesPrice": "9.5",
    "IncomeAccountRef": {"FullName": "Sales"},
    "PurchaseDesc": "Mug",
    "PurchaseCost": 3,
    "ExpenseAccountRef": {"FullName": "COGS"},
    "PrefVendorRef": {"FullName": "Mug Co"},
}


def _simple_item(name: str, with_barcode: bool = True, **extra: object) -> dict[str, object]:
    data: dict[str, object] = {"Name": name, "IsActive": True, "SalesTaxCodeRef": NON, **extra}
    if with_barcode:
        data["BarCode"] = BARCODE
    return data


LINE = {
    "ItemRef": ITEM,
    "Desc": "Awesome T-Shirt, size M",
    "Quantity": 2,
    "Rate": Decimal("19.99"),
    "SalesTaxCodeRef": TAX,
}
LINE_BY_AMOUNT = {"ItemRef": {"ListID": LIST_ID}, "Amount": Decimal("-5.00"), "Desc": "Coupon SPRING"}
DESCRIPTION_LINE = {"Desc": "Thank you for your order!"}
FULL_LINE = {
    **LINE,
    "UnitOfMeasure": "Each",
    "ClassRef": {"FullName": "Web"},
    "Amount": Decimal("39.98"),
    "InventorySiteRef": {"FullName": "Main"},
    "SerialNumber": "SN-1",
    "Other1": "o1",
    "Other2": "o2",
}


def _sales(kind: str, mod: bool = False, **extra: object) -> dict[str, object]:
    header: dict[str, object] = {
        "CustomerRef": {"FullName": "Jane Doe (jane@example.com)"},
        "ClassRef": {"FullName": "Web"},
        "TemplateRef": {"FullName": "Custom"},
        "TxnDate": dt.date(2024, 3, 1),
        "RefNumber": "WC-1001",
        "BillAddress": ADDRESS,
        "ShipAddress": ADDRESS,
        "DueDate": "2024-03-31",
        "SalesRepRef": {"FullName": "JD"},
        "FOB": "Origin",
        "ShipDate": dt.datetime(2024, 3, 2, 10, 0),
        "ShipMethodRef": {"FullName": "UPS"},
        "ItemSalesTaxRef": {"FullName": "CA tax"},
        "Memo": "Order #1001 from the web shop\nPaid by card",
        "CustomerMsgRef": {"FullName": "Thanks"},
        "IsToBePrinted": False,
        "IsToBeEmailed": True,
        "CustomerSalesTaxCodeRef": TAX,
        "Other": "web",
        **extra,
    }
    line_key = f"{kind}Line{'Mod' if mod else 'Add'}"
    lines: list[dict[str, object]] = [dict(FULL_LINE), dict(LINE_BY_AMOUNT), dict(DESCRIPTION_LINE)]
    if kind == "SalesOrder":
        lines[0].pop("ServiceDate", None)
    else:
        lines[0]["ServiceDate"] = dt.date(2024, 3, 1)
    if mod:
        for number, line in enumerate(lines):
            line["TxnLineID"] = f"C{number + 7}-1417118624" if number else "-1"
        header = {"TxnID": TXN_ID, "EditSequence": EDIT_SEQUENCE, **header}
    header[line_key] = lines
    return header


LIST_QUERY_VARIANTS = [
    {"ListID": [LIST_ID, "80000002-1415713663"]},
    {"FullName": "SPREE-T-SHIRT", "IncludeRetElement": ["ListID", "EditSequence", "Name"]},
    {
        "MaxReturned": 100,
        "ActiveStatus": "All",
        "FromModifiedDate": dt.datetime(2024, 1, 1, 12, 30),
        "ToModifiedDate": "2024-02-01T00:00:00-05:00",
        "NameFilter": {"MatchCriterion": "StartsWith", "Name": "SPREE"},
        "iterator": "Start",
    },
    {"MaxReturned": 100, "iterator": "Continue", "iteratorID": GUID, "OwnerID": ["0"]},
]
TXN_QUERY_VARIANTS = [
    {"TxnID": [TXN_ID]},
    {"RefNumber": ["WC-1001", "WC-1002"], "IncludeLineItems": True},
    {
        "MaxReturned": 50,
        "ModifiedDateRangeFilter": {
            "FromModifiedDate": dt.datetime(2024, 1, 1),
            "ToModifiedDate": dt.datetime(2024, 2, 1),
        },
        "EntityFilter": {"FullName": ["Jane Doe (jane@example.com)"]},
        "IncludeLineItems": True,
        "OwnerID": ["0"],
        "iterator": "Start",
        "metaData": "MetaDataAndResponseData",
    },
    {
        "TxnDateRangeFilter": {"FromTxnDate": dt.date(2024, 1, 1), "ToTxnDate": dt.date(2024, 1, 31)},
        "RefNumberFilter": {"MatchCriterion": "StartsWith", "RefNumber": "WC-"},
    },
]

# Every template, with one or more ordinary data sets.
ORDINARY: dict[str, list[dict[str, object]]] = {
    "CustomerAdd": [CUSTOMER_ADD, {"Name": "Bob"}],
    "CustomerMod": [CUSTOMER_MOD, {"ListID": LIST_ID, "EditSequence": EDIT_SEQUENCE, "Email": ""}],
    "CustomerQuery": [
        *LIST_QUERY_VARIANTS,
        {"TotalBalanceFilter": {"Operator": "GreaterThan", "Amount": Decimal("0")}},
    ],
    "ItemInventoryAdd": [INVENTORY_ADD],
    "ItemInventoryMod": [
        INVENTORY_MOD,
        {"ListID": LIST_ID, "EditSequence": EDIT_SEQUENCE, "SalesPrice": Decimal("21.00")},
    ],
    "ItemInventoryQuery": LIST_QUERY_VARIANTS,
    "ItemNonInventoryAdd": [
        _simple_item("Gift wrap", ManufacturerPartNumber="GW", SalesOrPurchase=SALES_OR_PURCHASE),
        _simple_item("Mug", SalesAndPurchase=SALES_AND_PURCHASE),
    ],
    "ItemNonInventoryMod": [
        {
            "ListID": LIST_ID,
            "EditSequence": EDIT_SEQUENCE,
            "Name": "Gift wrap",
            "SalesOrPurchaseMod": {**SALES_OR_PURCHASE, "ApplyAccountRefToExistingTxns": False},
        },
        {"ListID": LIST_ID, "EditSequence": EDIT_SEQUENCE, "SalesAndPurchaseMod": SALES_AND_PURCHASE},
    ],
    "ItemNonInventoryQuery": LIST_QUERY_VARIANTS,
    "ItemServiceAdd": [
        _simple_item("Setup fee", SalesOrPurchase=SALES_OR_PURCHASE),
        _simple_item("Consulting", SalesAndPurchase=SALES_AND_PURCHASE),
    ],
    "ItemServiceMod": [
        {
            "ListID": LIST_ID,
            "EditSequence": EDIT_SEQUENCE,
            "IsActive": False,
            "SalesOrPurchaseMod": {"Price": Decimal("30")},
        }
    ],
    "ItemServiceQuery": LIST_QUERY_VARIANTS,
    "ItemOtherChargeAdd": [
        _simple_item("Shipping", SalesOrPurchase={**SALES_OR_PURCHASE, "Desc": "Shipping"}),
        _simple_item(
            "Handling",
            with_barcode=False,
            SalesOrPurchase={"PricePercent": Decimal("2.5"), "AccountRef": {"FullName": "Shipping Income"}},
        ),
    ],
    "ItemOtherChargeMod": [
        {
            "ListID": LIST_ID,
            "EditSequence": EDIT_SEQUENCE,
            "SalesOrPurchaseMod": {"Desc": "Shipping (flat rate)"},
        }
    ],
    "ItemOtherChargeQuery": LIST_QUERY_VARIANTS,
    "ItemDiscountAdd": [
        {
            "Name": "Coupon",
            "BarCode": BARCODE,
            "IsActive": True,
            "ItemDesc": "Store coupon",
            "SalesTaxCodeRef": NON,
            "DiscountRatePercent": Decimal("10"),
            "AccountRef": {"FullName": "Discounts"},
            "ExternalGUID": GUID,
        },
        {"Name": "Fixed coupon", "DiscountRate": Decimal("5"), "AccountRef": {"FullName": "Discounts"}},
    ],
    "ItemDiscountQuery": LIST_QUERY_VARIANTS,
    "ItemSalesTaxAdd": [
        {
            "Name": "CA tax",
            "BarCode": BARCODE,
            "IsActive": True,
            "ClassRef": {"FullName": "Web"},
            "ItemDesc": "California",
            "TaxRate": Decimal("7.25"),
            "TaxVendorRef": {"FullName": "State Board"},
            "ExternalGUID": GUID,
        }
    ],
    "ItemSalesTaxQuery": LIST_QUERY_VARIANTS,
    "VendorAdd": [
        {"Name": "Board of Equalization", "IsActive": True, "CompanyName": "Board", "Notes": "Agency"}
    ],
    "ItemQuery": LIST_QUERY_VARIANTS,
    "InvoiceAdd": [
        _sales(
            "Invoice",
            ARAccountRef={"FullName": "Accounts Receivable"},
            IsPending=False,
            PONumber="PO-7",
            TermsRef={"FullName": "Net 30"},
            IsTaxIncluded=False,
            ExchangeRate=Decimal("1.0"),
            ExternalGUID=GUID,
            LinkToTxnID=[TXN_ID],
        ),
        {"CustomerRef": {"ListID": LIST_ID}, "InvoiceLineAdd": [LINE]},
    ],
    "InvoiceMod": [_sales("Invoice", mod=True, PONumber="PO-7")],
    "InvoiceQuery": [*TXN_QUERY_VARIANTS, {"PaidStatus": "NotPaidOnly", "IncludeLinkedTxns": True}],
    "SalesReceiptAdd": [
        _sales(
            "SalesReceipt",
            IsPending=False,
            CheckNumber="1234",
            PaymentMethodRef={"FullName": "Visa"},
            DepositToAccountRef={"FullName": "Undeposited Funds"},
            ExternalGUID=GUID,
        ),
        {"CustomerRef": {"FullName": "Walk-in"}, "SalesReceiptLineAdd": [DESCRIPTION_LINE]},
    ],
    "SalesReceiptMod": [_sales("SalesReceipt", mod=True, PaymentMethodRef={"FullName": "Visa"})],
    "SalesReceiptQuery": TXN_QUERY_VARIANTS,
    "SalesOrderAdd": [_sales("SalesOrder", PONumber="PO-7", IsManuallyClosed=False, ExternalGUID=GUID)],
    "SalesOrderMod": [_sales("SalesOrder", mod=True, IsManuallyClosed=True)],
    "SalesOrderQuery": TXN_QUERY_VARIANTS,
    "CreditMemoAdd": [_sales("CreditMemo", ARAccountRef={"FullName": "Accounts Receivable"}, PONumber="R-1")],
    "CreditMemoQuery": TXN_QUERY_VARIANTS,
    "ReceivePaymentAdd": [
        {
            "CustomerRef": {"ListID": LIST_ID},
            "ARAccountRef": {"FullName": "Accounts Receivable"},
            "TxnDate": dt.date(2024, 3, 2),
            "RefNumber": "WC-1001-PAY",
            "TotalAmount": Decimal("210"),
            "PaymentMethodRef": {"FullName": "Visa"},
            "Memo": "Stripe ch_123",
            "DepositToAccountRef": {"FullName": "Undeposited Funds"},
            "ExternalGUID": GUID,
            "AppliedToTxnAdd": [
                {
                    "TxnID": TXN_ID,
                    "PaymentAmount": Decimal("200"),
                    "DiscountAmount": Decimal("10"),
                    "DiscountAccountRef": {"FullName": "Discounts"},
                }
            ],
        },
        {
            "CustomerRef": {"FullName": "Jane Doe (jane@example.com)"},
            "TotalAmount": "19.99",
            "IsAutoApply": True,
        },
        {
            "CustomerRef": {"ListID": LIST_ID},
            "TxnDate": dt.date(2024, 3, 5),
            "TotalAmount": Decimal("0"),
            "Memo": "WooCommerce refund 726 of order 1001: credit applied to the invoice",
            "AppliedToTxnAdd": [
                {
                    "TxnID": TXN_ID,
                    "PaymentAmount": Decimal("0"),
                    "SetCredit": [{"CreditTxnID": "C9-1417118700", "AppliedAmount": Decimal("10.00")}],
                }
            ],
        },
    ],
    "ReceivePaymentQuery": TXN_QUERY_VARIANTS,
    "ARRefundCreditCardAdd": [
        {
            "CustomerRef": {"ListID": LIST_ID},
            "RefundFromAccountRef": {"FullName": "Undeposited Funds"},
            "ARAccountRef": {"FullName": "Accounts Receivable"},
            "TxnDate": dt.date(2024, 3, 5),
            "RefNumber": "R726",
            "Address": ADDRESS,
            "PaymentMethodRef": {"FullName": "Visa"},
            "Memo": "WooCommerce refund 726 of order 1001",
            "ExternalGUID": GUID,
            "RefundAppliedToTxnAdd": [{"TxnID": TXN_ID, "RefundAmount": Decimal("10.00")}],
        }
    ],
    "CheckAdd": [
        {
            "AccountRef": {"FullName": "Checking"},
            "PayeeEntityRef": {"ListID": LIST_ID},
            "RefNumber": "R726",
            "TxnDate": dt.date(2024, 3, 5),
            "Memo": "WooCommerce refund 726 of order 1001",
            "Address": ADDRESS,
            "IsToBePrinted": True,
            "ExternalGUID": GUID,
            "ApplyCheckToTxnAdd": [{"TxnID": TXN_ID, "Amount": Decimal("10.00")}],
            "ExpenseLineAdd": [
                {
                    "AccountRef": {"FullName": "Accounts Receivable"},
                    "Amount": Decimal("10.00"),
                    "Memo": "refund of credit memo R726",
                    "CustomerRef": {"ListID": LIST_ID},
                }
            ],
        }
    ],
    "InventoryAdjustmentAdd": [
        {
            "AccountRef": {"FullName": "Inventory Adjustments"},
            "TxnDate": dt.date(2024, 3, 1),
            "RefNumber": "ADJ-1",
            "InventorySiteRef": {"FullName": "Main"},
            "CustomerRef": {"ListID": LIST_ID},
            "ClassRef": {"FullName": "Web"},
            "Memo": "Stock count from the web shop",
            "InventoryAdjustmentLineAdd": [
                {"ItemRef": ITEM, "QuantityAdjustment": {"NewQuantity": 12}},
                {"ItemRef": {"ListID": LIST_ID}, "QuantityAdjustment": {"QuantityDifference": -3}},
                {"ItemRef": ITEM, "ValueAdjustment": {"QuantityDifference": Decimal("1.5")}},
            ],
        },
    ],
    "InventoryAdjustmentQuery": [
        {"TxnID": [TXN_ID]},
        {"RefNumber": ["STK42"], "IncludeLineItems": True},
        {
            "MaxReturned": 10,
            "TxnDateRangeFilter": {"FromTxnDate": dt.date(2024, 1, 1), "ToTxnDate": dt.date(2024, 1, 31)},
            "IncludeRetElement": ["TxnID", "RefNumber"],
            "iterator": "Start",
        },
    ],
    "TxnVoid": [{"TxnVoidType": "Invoice", "TxnID": TXN_ID}],
    "TxnDel": [{"TxnDelType": "SalesOrder", "TxnID": TXN_ID}],
    "AccountQuery": [*LIST_QUERY_VARIANTS[:3], {"AccountType": ["Income", "CostOfGoodsSold"]}],
    "PaymentMethodQuery": [*LIST_QUERY_VARIANTS[:3], {"PaymentMethodType": ["Visa", "MasterCard"]}],
    "SalesTaxCodeQuery": [*LIST_QUERY_VARIANTS[:3], {"ActiveStatus": "ActiveOnly"}],
    "CompanyQuery": [{}, {"OwnerID": [GUID], "IncludeRetElement": ["CompanyName"]}],
    "HostQuery": [{}, {"IncludeListMetaData": {"IncludeMaxCapacity": True}}],
    "PreferencesQuery": [{}, {"IncludeRetElement": ["SalesTaxPreferences", "MultiCurrencyPreferences"]}],
    "VendorQuery": [*LIST_QUERY_VARIANTS[:3], {"IncludeRetElement": ["ListID", "Name", "IsSalesTaxAgency"]}],
    "ClassQuery": [*LIST_QUERY_VARIANTS[:3], {"ActiveStatus": "ActiveOnly"}],
    "AccountAdd": [
        {"Name": "Freight Income", "AccountType": "Income", "AccountNumber": "4100", "Desc": "Shipping"},
        {"Name": "Web Sales", "ParentRef": {"FullName": "Sales"}, "AccountType": "Income", "IsActive": True},
    ],
    "PaymentMethodAdd": [{"Name": "Stripe", "PaymentMethodType": "OtherCreditCard"}, {"Name": "Bank"}],
}
# Queries without an iterator attribute in the schema.
for _name in ("AccountQuery", "PaymentMethodQuery", "SalesTaxCodeQuery", "ClassQuery"):
    ORDINARY[_name] = [
        {k: v for k, v in d.items() if k not in ("iterator", "iteratorID", "OwnerID")}
        for d in ORDINARY[_name]
    ]

HOSTILE_TEXT = (
    "A & B \"quoted\" <tag> 'apos' Café Ünïcödé Œuvre ő 😀👍🏽 王 \x00\x07\x1b\u200b tab\there\r\n"
    + "x" * 300
)
HUGE_AMOUNT = Decimal("-9999999999999.994")  # the most negative AMTTYPE QuickBooks can hold, after rounding
FINE_NUMBER = Decimal("-1234567.1234567")  # PRICETYPE / QUANTYPE: more decimals than allowed


def hostile(request_type: str, data: Mapping[str, object], version: str = "13.0") -> dict[str, object]:
    """``data`` with every text, amount and number replaced by the worst legal value of its kind."""
    cat = catalog(version)
    rq = cat.element(f"{request_type}Rq")
    assert rq is not None
    body = cat.children(rq).get(request_type)
    out: dict[str, object] = {}
    for key, value in data.items():
        rq_field = cat.children(rq).get(key)
        field = rq_field if rq_field is not None or body is None else cat.children(body).get(key)
        out[key] = value if field is None else _worst(cat, field, value)
    if body is not None:
        out.update({name: None for name in cat.children(body) if name not in out})  # explicit Nones
    return out


def _worst(cat, field: Field, value: object) -> object:
    if isinstance(value, list):
        return [_worst(cat, field, item) for item in value]
    if field.kind == Kind.AGGREGATE and isinstance(value, Mapping):
        children = cat.children(field)
        return {k: (_worst(cat, children[k], v) if k in children else v) for k, v in value.items()}
    if field.kind == Kind.TEXT and isinstance(value, str) and value and field.name != "EditSequence":
        return HOSTILE_TEXT
    if field.kind == Kind.AMOUNT:
        return HUGE_AMOUNT
    if field.kind in (Kind.PRICE, Kind.QUANTITY, Kind.PERCENT):
        return FINE_NUMBER
    return value
