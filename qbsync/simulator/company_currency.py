"""Currencies on a multicurrency company file: a customer's transactions are in the customer's currency,
a check in its payee's, paid out of an account in that currency or the home currency.

Sources: the qbXML 13.0 XSD (CurrencyRef on CustomerAdd; InvoiceAdd & co and CheckAdd carry only
ExchangeRate; CheckRet reports CurrencyRef and AmountInHomeCurrency), Intuit "Using the multicurrency
feature with the sdk", and qbgarage.com on paying foreign names (``check_payout_account``). The default
exchange rate (the currency list's) and the name of a foreign currency's A/R account ("Accounts
Receivable - EUR") are assumed.
"""

from __future__ import annotations

from typing import Any

from qbsync.simulator.company_lists import Preferences, ref_to, special_account
from qbsync.simulator.company_store import TXN_KINDS, Record, StatusError, Store

# Customer transactions that post to an A/R account.
RECEIVABLE_KINDS = ("Invoice", "CreditMemo", "ReceivePayment", "ARRefundCreditCard")


# The names a check can be written to (PayeeEntityRef); each may carry a currency.
PAYEE_KINDS = ("Customer", "Vendor", "Employee", "OtherName")


def currency_defaults(
    store: Store, prefs: Preferences, kind: str, data: dict[str, Any], entity: str = "CustomerRef"
) -> None:
    """On a multicurrency file a customer transaction is in the customer's currency (the XSD has no
    CurrencyRef on InvoiceAdd & co, only on the customer), at the currency's exchange rate unless the
    request gives one, against the A/R account of that currency (QuickBooks keeps one A/R account per
    currency; its name "Accounts Receivable - CAD" is assumed). A check is in its payee's currency
    (``entity`` PayeeEntityRef; CheckAdd has ExchangeRate but no CurrencyRef either, CheckRet reports both
    and AmountInHomeCurrency)."""
    if not prefs.multicurrency or not isinstance(data.get(entity), dict):
        return
    named = store.get(PAYEE_KINDS, data[entity]["ListID"])
    currency_ref = named.data.get("CurrencyRef") if named is not None else None
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


def check_payout_account(store: Store, prefs: Preferences, kind: str, data: dict[str, Any],
                         account: str) -> None:
    """Money paid out to a foreign name comes from an account in that name's currency or in the home
    currency (then converted at the transaction's rate), never from one in a third currency: 3180.

    qbgarage.com (QuickBooks 2009 multicurrency, printing checks): "provided the currency for the bank
    account is either the same currency as the vendor or your home currency ... from a USD bank account,
    QuickBooks will record the bill payment for the amount converted to USD at the exchange rate entered.
    But you can't pay a vendor transacting in EUR with British Pound Sterling (GBP)". Code and text of the
    refusal, and that a card refund's RefundFromAccountRef follows the same rule, are assumed."""
    if not prefs.multicurrency or not isinstance(data.get(account), dict):
        return
    source = store.get(("Account",), data[account]["ListID"])
    source_ref = source.data.get("CurrencyRef") if source is not None else None
    source_currency = source_ref.get("ListID") if isinstance(source_ref, dict) else prefs.home_currency
    currency = data.get("CurrencyRef")
    payee_currency = currency.get("ListID") if isinstance(currency, dict) else prefs.home_currency
    if source_currency not in (prefs.home_currency, payee_currency):
        names = {"Check": "a Check", "ARRefundCreditCard": "an ARRefundCreditCard"}
        raise StatusError(
            3180,
            f"There was an error when saving {names.get(kind, kind)}.  QuickBooks error message: The "
            "account must be in the home currency or in the currency of the name it pays.",
        )


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
