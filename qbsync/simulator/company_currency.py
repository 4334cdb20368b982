"""Currencies on a multicurrency company file: a customer's transactions are in the customer's currency.

Sources: the qbXML 13.0 XSD (CurrencyRef on CustomerAdd; InvoiceAdd & co carry only ExchangeRate) and
Intuit "Using the multicurrency feature with the sdk". The default exchange rate (the currency list's)
and the name of a foreign currency's A/R account ("Accounts Receivable - EUR") are assumed.
"""

from __future__ import annotations

from typing import Any

from qbsync.simulator.company_lists import Preferences, ref_to, special_account
from qbsync.simulator.company_store import TXN_KINDS, Record, StatusError, Store

# Customer transactions that post to an A/R account.
RECEIVABLE_KINDS = ("Invoice", "CreditMemo", "ReceivePayment", "ARRefundCreditCard")


def currency_defaults(store: Store, prefs: Preferences, kind: str, data: dict[str, Any]) -> None:
    """On a multicurrency file a customer transaction is in the customer's currency (the XSD has no
    CurrencyRef on InvoiceAdd & co, only on the customer), at the currency's exchange rate unless the
    request gives one, against the A/R account of that currency (QuickBooks keeps one A/R account per
    currency; its name "Accounts Receivable - CAD" is assumed)."""
    if not prefs.multicurrency or not isinstance(data.get("CustomerRef"), dict):
        return
    customer = store.get(("Customer",), data["CustomerRef"]["ListID"])
    currency_ref = customer.data.get("CurrencyRef") if customer is not None else None
    currency_id = currency_ref["ListID"] if isinstance(currency_ref, dict) else prefs.home_currency
    currency = store.get(("Currency",), currency_id)
    if currency is None:
        return
    data["CurrencyRef"] = ref_to(store, currency.id)
    if currency.id == prefs.home_currency:
        data["ExchangeRate"] = "1"
    else:
        data.setdefault("ExchangeRate", str(currency.data.get("ExchangeRate", "1")))
    if kind in RECEIVABLE_KINDS and "ARAccountRef" not in data:
        data["ARAccountRef"] = ref_to(store, _receivable_for(store, prefs, currency))


def _receivable_for(store: Store, prefs: Preferences, currency: Record) -> str:
    if currency.id == prefs.home_currency:
        return special_account(store, prefs, "ar_account")["ListID"]
    for account in store.all(("Account",)):
        ref = account.data.get("CurrencyRef")
        is_receivable = account.data.get("AccountType") == "AccountsReceivable"
        if is_receivable and isinstance(ref, dict) and ref.get("ListID") == currency.id:
            return account.id
    data = {
        "Name": f"Accounts Receivable - {currency.data.get('CurrencyCode', currency.data.get('Name'))}",
        "AccountType": "AccountsReceivable",
        "SpecialAccountType": "AccountsReceivable",
        "CurrencyRef": {"ListID": currency.id},
        "Balance": "0.00",
        "TotalBalance": "0.00",
        "IsActive": "true",
    }
    store.resolve_refs(data, "Account")
    return store.create("Account", data).id


def check_currency_change(store: Store, mod: dict[str, Any]) -> None:
    """A customer with transactions keeps its currency: a CustomerMod changing CurrencyRef gets 3180
    (assumed; QuickBooks ties each transaction's amounts to its customer's currency)."""
    customer = store.get(("Customer",), str(mod.get("ListID", "")))
    wanted = mod.get("CurrencyRef")
    if customer is None or not isinstance(wanted, dict):
        return
    current = customer.data.get("CurrencyRef")
    target = store.resolve_ref("CurrencyRef", wanted, "Customer")
    if isinstance(current, dict) and current.get("ListID") == target["ListID"]:
        return
    for record in store.all(TXN_KINDS):
        ref = record.data.get("CustomerRef")
        if isinstance(ref, dict) and ref.get("ListID") == customer.id:
            raise StatusError(
                3180,
                "There was an error when modifying a Customer.  QuickBooks error message: You cannot change "
                "the currency of a customer that has transactions.",
            )
