"""Money after the sale: credits set on invoices, card refunds, refund checks and deposits, and what each
does to the customer's balance, the credit left and the accounts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree

from qbsync.simulator import QuickBooksCompany
from tests.simulator.conftest import FakeClock
from tests.simulator.qbxml_messages import (
    customer_add,
    message,
    responses,
    sales_add,
    sales_line,
    status,
    valid_response,
)


def ask(company: QuickBooksCompany, *requests: str) -> list[etree._Element]:
    return responses(valid_response(company.process(message(*requests))))


def one(company: QuickBooksCompany, request: str) -> etree._Element:
    (rs,) = ask(company, request)
    return rs


SERVICE_ITEM = (
    "<ItemServiceAddRq><ItemServiceAdd><Name>Repair</Name><SalesOrPurchase><Price>50.00</Price>"
    "<AccountRef><FullName>Sales</FullName></AccountRef></SalesOrPurchase></ItemServiceAdd></ItemServiceAddRq>"
)


@pytest.fixture
def retail(clock: FakeClock) -> QuickBooksCompany:
    company = QuickBooksCompany(profile="retail", clock=clock)
    assert [status(rs)[0] for rs in ask(company, customer_add("Ann"), SERVICE_ITEM)] == [0, 0]
    return company


def txn_id(rs: etree._Element, kind: str) -> str:
    return rs.findtext(f"{kind}Ret/TxnID")


def invoice(company: QuickBooksCompany, qty: str = "2") -> str:
    rs = one(company, sales_add("Invoice", "Ann", [sales_line("Invoice", "Repair", qty)], ref_number="1001"))
    assert status(rs)[0] == 0
    return txn_id(rs, "Invoice")


def credit_memo(company: QuickBooksCompany, amount: str = "50.00", ref: str = "1001") -> str:
    rs = one(
        company,
        sales_add(
            "CreditMemo", "Ann", [sales_line("CreditMemo", "Repair", "1", rate=amount)], ref_number=ref
        ),
    )
    assert status(rs)[0] == 0
    return txn_id(rs, "CreditMemo")


def delete(kind: str, txn_id: str) -> str:
    return f"<TxnDelRq><TxnDelType>{kind}</TxnDelType><TxnID>{txn_id}</TxnID></TxnDelRq>"


def void(kind: str, txn_id: str) -> str:
    return f"<TxnVoidRq><TxnVoidType>{kind}</TxnVoidType><TxnID>{txn_id}</TxnID></TxnVoidRq>"


def balance(company: QuickBooksCompany) -> Decimal:
    return company.books().customer_balance.get("Ann", Decimal(0))


def credits(company: QuickBooksCompany) -> Decimal:
    return company.books().customer_credits.get("Ann", Decimal(0))


def set_credit(invoice_id: str, memo_id: str, amount: str, payment: str | None = None) -> str:
    pay = f"<PaymentAmount>{payment}</PaymentAmount>" if payment else ""
    total = f"<TotalAmount>{payment or '0.00'}</TotalAmount>"
    return (
        "<ReceivePaymentAddRq><ReceivePaymentAdd><CustomerRef><FullName>Ann</FullName></CustomerRef>"
        f"{total}<AppliedToTxnAdd><TxnID>{invoice_id}</TxnID>{pay}"
        f"<SetCredit><CreditTxnID>{memo_id}</CreditTxnID><AppliedAmount>{amount}</AppliedAmount></SetCredit>"
        "</AppliedToTxnAdd></ReceivePaymentAdd></ReceivePaymentAddRq>"
    )


def card_refund(memo_id: str, amount: str, account: str = "") -> str:
    source = f"<RefundFromAccountRef><FullName>{account}</FullName></RefundFromAccountRef>" if account else ""
    return (
        "<ARRefundCreditCardAddRq><ARRefundCreditCardAdd><CustomerRef><FullName>Ann</FullName></CustomerRef>"
        f"{source}<PaymentMethodRef><FullName>Visa</FullName></PaymentMethodRef>"
        f"<RefundAppliedToTxnAdd><TxnID>{memo_id}</TxnID><RefundAmount>{amount}</RefundAmount>"
        "</RefundAppliedToTxnAdd></ARRefundCreditCardAdd></ARRefundCreditCardAddRq>"
    )


def refund_check(memo_id: str, amount: str) -> str:
    return (
        "<CheckAddRq><CheckAdd><AccountRef><FullName>Checking</FullName></AccountRef>"
        "<PayeeEntityRef><FullName>Ann</FullName></PayeeEntityRef>"
        f"<ApplyCheckToTxnAdd><TxnID>{memo_id}</TxnID><Amount>{amount}</Amount></ApplyCheckToTxnAdd>"
        "<ExpenseLineAdd><AccountRef><FullName>Accounts Receivable</FullName></AccountRef>"
        f"<Amount>{amount}</Amount></ExpenseLineAdd></CheckAdd></CheckAddRq>"
    )


def test_a_credit_memo_leaves_an_open_credit_until_it_is_used(retail: QuickBooksCompany) -> None:
    invoice(retail)
    credit_memo(retail)
    assert balance(retail) == Decimal("50.00")  # 100 owed less the 50 credit
    assert credits(retail) == Decimal("50.00")  # ... but the credit is still open


def test_set_credit_applies_a_credit_memo_to_an_invoice(retail: QuickBooksCompany) -> None:
    invoice_id = invoice(retail)
    memo_id = credit_memo(retail)

    rs = one(retail, set_credit(invoice_id, memo_id, "50.00"))

    assert status(rs)[0] == 0
    applied = rs.find("ReceivePaymentRet/AppliedToTxnRet")
    assert applied.findtext("BalanceRemaining") == "50.00"
    assert applied.findtext("LinkedTxn/TxnID") == memo_id
    assert retail.find("Invoice", invoice_id)["BalanceRemaining"] == "50.00"
    assert retail.find("CreditMemo", memo_id)["CreditRemaining"] == "0.00"
    assert credits(retail) == Decimal(0)
    assert balance(retail) == Decimal("50.00")


def test_set_credit_cannot_use_more_than_the_credit_left(retail: QuickBooksCompany) -> None:
    """Assumed code: 3210 (Info), worded as the real over-payment refusal."""
    invoice_id = invoice(retail)
    memo_id = credit_memo(retail, "20.00")
    code, severity, _ = status(one(retail, set_credit(invoice_id, memo_id, "30.00")))
    assert (code, severity) == (3210, "Info")
    assert retail.find("Invoice", invoice_id)["BalanceRemaining"] == "100.00"


def test_deleting_the_payment_gives_the_credit_back(retail: QuickBooksCompany) -> None:
    invoice_id = invoice(retail)
    memo_id = credit_memo(retail)
    payment_id = txn_id(
        one(retail, set_credit(invoice_id, memo_id, "50.00", payment="50.00")), "ReceivePayment"
    )
    assert retail.find("Invoice", invoice_id)["BalanceRemaining"] == "0.00"

    rs = one(
        retail, f"<TxnDelRq><TxnDelType>ReceivePayment</TxnDelType><TxnID>{payment_id}</TxnID></TxnDelRq>"
    )

    assert status(rs)[0] == 0
    assert retail.find("Invoice", invoice_id)["BalanceRemaining"] == "100.00"
    assert retail.find("CreditMemo", memo_id)["CreditRemaining"] == "50.00"


def test_a_card_refund_pays_the_credit_out_of_undeposited_funds(retail: QuickBooksCompany) -> None:
    receipt = one(retail, sales_add("SalesReceipt", "Ann", [sales_line("SalesReceipt", "Repair", "2")]))
    assert status(receipt)[0] == 0
    memo_id = credit_memo(retail, "50.00", ref="R1")
    assert credits(retail) == Decimal("50.00")

    rs = one(retail, card_refund(memo_id, "50.00"))

    assert status(rs)[0] == 0
    ret = rs.find("ARRefundCreditCardRet")
    assert ret.findtext("RefundFromAccountRef/FullName") == "Undeposited Funds"
    assert ret.findtext("TotalAmount") == "50.00"
    assert ret.findtext("RefundAppliedToTxnRet/CreditRemaining") == "0.00"
    books = retail.books()
    assert books.customer_credits.get("Ann", Decimal(0)) == 0
    assert books.customer_balance["Ann"] == 0
    # 100 taken in (a service item is non-taxable by default), 50 paid back out
    assert books.accounts["Undeposited Funds"] == Decimal("50.00")
    assert books.accounts["Sales"] == Decimal("50.00")


def test_a_refund_is_refused_beyond_the_credit(retail: QuickBooksCompany) -> None:
    """Assumed code: 3210 (Info) for a refund beyond the credit left."""
    memo_id = credit_memo(retail, "20.00")
    assert status(one(retail, card_refund(memo_id, "25.00")))[0] == 3210
    assert retail.transactions("ARRefundCreditCard") == []


def test_a_refund_must_name_a_credit_of_that_customer(retail: QuickBooksCompany) -> None:
    """Intuit requires the refund's customer to match its credits; the code (3120) is assumed."""
    one(retail, customer_add("Bob"))
    rs = one(
        retail,
        sales_add("CreditMemo", "Bob", [sales_line("CreditMemo", "Repair", "1")], ref_number="B1"),
    )
    assert status(one(retail, card_refund(txn_id(rs, "CreditMemo"), "50.00")))[0] == 3120


def test_a_refund_check_pays_the_credit_from_the_bank(retail: QuickBooksCompany) -> None:
    memo_id = credit_memo(retail, "30.00")

    rs = one(retail, refund_check(memo_id, "30.00"))

    assert status(rs)[0] == 0
    assert rs.findtext("CheckRet/Amount") == "30.00"
    books = retail.books()
    assert books.accounts["Checking"] == Decimal("-30.00")
    assert books.customer_balance["Ann"] == 0
    assert books.customer_credits.get("Ann", Decimal(0)) == 0


def test_assumed_a_refund_check_may_be_drawn_on_undeposited_funds(retail: QuickBooksCompany) -> None:
    """Assumed: the account a check is drawn on is not checked. Conductor's QuickBooks Desktop reference
    calls it the bank account the funds are drawn from; whether QuickBooks refuses Undeposited Funds there
    (qbsync draws refund checks on it when no deposit account is set) was not found."""
    one(retail, sales_add("SalesReceipt", "Ann", [sales_line("SalesReceipt", "Repair", "1")]))  # 50.00 in
    memo_id = credit_memo(retail, "30.00")

    rs = one(retail, refund_check(memo_id, "30.00").replace("Checking", "Undeposited Funds", 1))

    assert status(rs)[0] == 0
    assert retail.books().accounts["Undeposited Funds"] == Decimal("20.00")


@pytest.fixture
def euro_buyer(clock: FakeClock) -> QuickBooksCompany:
    """The US multicurrency company with Zoe, who pays in euros, owed a 30.00 EUR credit booked at 1.10."""
    company = QuickBooksCompany(profile="multicurrency", clock=clock)
    euro = "<CurrencyRef><FullName>Euro</FullName></CurrencyRef>"
    assert [status(rs)[0] for rs in ask(company, customer_add("Zoe", extra=euro), SERVICE_ITEM)] == [0, 0]
    memo = sales_add("CreditMemo", "Zoe", [sales_line("CreditMemo", "Repair", "1", rate="30.00")], "Z1",
                     header="<ExchangeRate>1.10</ExchangeRate>")
    assert status(one(company, memo))[0] == 0
    return company


def euro_refund_check(company: QuickBooksCompany, bank: str) -> etree._Element:
    (memo,) = company.transactions("CreditMemo")
    return one(company, (
        f"<CheckAddRq><CheckAdd><AccountRef><FullName>{bank}</FullName></AccountRef>"
        "<PayeeEntityRef><FullName>Zoe</FullName></PayeeEntityRef><ExchangeRate>1.10</ExchangeRate>"
        f"<ApplyCheckToTxnAdd><TxnID>{memo['TxnID']}</TxnID><Amount>30.00</Amount></ApplyCheckToTxnAdd>"
        "<ExpenseLineAdd><AccountRef><FullName>Accounts Receivable - EUR</FullName></AccountRef>"
        "<Amount>30.00</Amount></ExpenseLineAdd></CheckAdd></CheckAddRq>"
    ))


def test_a_refund_check_to_a_foreign_customer_is_in_their_currency_and_converted_at_home(
    euro_buyer: QuickBooksCompany,
) -> None:
    """qbgarage.com (QuickBooks 2009 multicurrency): paid from a home-currency bank account, the payment is
    recorded converted at the exchange rate entered; XSD: CheckRet has CurrencyRef, AmountInHomeCurrency.
    30.00 EUR at 1.10 leave the dollar bank as 33.00 USD, and the euro receivable back at zero at home."""
    rs = euro_refund_check(euro_buyer, "Checking")

    assert status(rs)[0] == 0
    assert rs.findtext("CheckRet/CurrencyRef/FullName") == "Euro"
    assert rs.findtext("CheckRet/ExchangeRate") == "1.10"
    assert rs.findtext("CheckRet/Amount") == "30.00"
    assert rs.findtext("CheckRet/AmountInHomeCurrency") == "33.00"
    books = euro_buyer.books()
    assert books.accounts["Checking"] == books.home_accounts["Checking"] == Decimal("-33.00")
    assert books.accounts["Accounts Receivable - EUR"] == Decimal("0.00")
    assert books.home_accounts["Accounts Receivable - EUR"] == Decimal("0.00")
    assert books.customer_credits.get("Zoe", Decimal(0)) == 0


def test_a_foreign_customer_cannot_be_paid_from_an_account_in_a_third_currency(
    euro_buyer: QuickBooksCompany,
) -> None:
    """qbgarage.com: "you can't pay a vendor transacting in EUR with British Pound Sterling (GBP)" on a
    dollar company; the code and text of the refusal (3180) are assumed. Nothing is paid out."""
    sterling = (
        "<AccountAddRq><AccountAdd><Name>Sterling Account</Name><AccountType>Bank</AccountType>"
        "<CurrencyRef><FullName>British Pound Sterling</FullName></CurrencyRef></AccountAdd></AccountAddRq>"
    )
    assert status(one(euro_buyer, sterling))[0] == 0

    rs = euro_refund_check(euro_buyer, "Sterling Account")

    assert status(rs)[0] == 3180
    assert euro_buyer.transactions("Check") == []
    assert euro_buyer.books().customer_credits["Zoe"] == Decimal("30.00")


def test_voiding_a_card_refund_gives_the_credit_back(retail: QuickBooksCompany) -> None:
    """Assumed: a voided card refund gives its credit back to the credit memo."""
    memo_id = credit_memo(retail, "30.00")
    refund_id = txn_id(one(retail, card_refund(memo_id, "30.00")), "ARRefundCreditCard")

    rs = one(
        retail,
        f"<TxnVoidRq><TxnVoidType>ARRefundCreditCard</TxnVoidType><TxnID>{refund_id}</TxnID></TxnVoidRq>",
    )

    assert status(rs)[0] == 0
    assert credits(retail) == Decimal("30.00")
    assert retail.books().accounts.get("Undeposited Funds", Decimal(0)) == 0


def test_a_deposit_moves_payments_from_undeposited_funds_to_the_bank_once(retail: QuickBooksCompany) -> None:
    """Assumed: a payment is deposited once, from Undeposited Funds only; a second deposit gets 3180."""
    receipt = one(retail, sales_add("SalesReceipt", "Ann", [sales_line("SalesReceipt", "Repair", "1")]))
    receipt_id = txn_id(receipt, "SalesReceipt")
    deposit = (
        "<DepositAddRq><DepositAdd><DepositToAccountRef><FullName>Checking</FullName></DepositToAccountRef>"
        f"<DepositLineAdd><PaymentTxnID>{receipt_id}</PaymentTxnID></DepositLineAdd></DepositAdd></DepositAddRq>"
    )

    rs = one(retail, deposit)

    assert status(rs)[0] == 0
    assert rs.findtext("DepositRet/DepositTotal") == "50.00"
    books = retail.books()
    assert books.accounts["Checking"] == Decimal("50.00")
    assert books.accounts.get("Undeposited Funds", Decimal(0)) == 0
    assert status(one(retail, deposit))[0] == 3180  # the same payment cannot be deposited twice


def test_linked_transactions_are_listed_only_when_a_query_asks(retail: QuickBooksCompany) -> None:
    """Assumed: a query lists LinkedTxn only with IncludeLinkedTxns true (an Add's answer always does)."""
    invoice_id = invoice(retail)
    memo_id = credit_memo(retail)
    one(retail, set_credit(invoice_id, memo_id, "50.00"))
    plain = one(retail, f"<CreditMemoQueryRq><TxnID>{memo_id}</TxnID></CreditMemoQueryRq>")
    linked = one(
        retail,
        f"<CreditMemoQueryRq><TxnID>{memo_id}</TxnID><IncludeLinkedTxns>true</IncludeLinkedTxns></CreditMemoQueryRq>",
    )
    assert plain.find("CreditMemoRet/LinkedTxn") is None
    assert linked.findtext("CreditMemoRet/LinkedTxn/TxnID") == invoice_id


def test_refunds_checks_and_deposits_answer_their_queries_in_valid_qbxml(retail: QuickBooksCompany) -> None:
    receipt = one(retail, sales_add("SalesReceipt", "Ann", [sales_line("SalesReceipt", "Repair", "1")]))
    memo_id = credit_memo(retail, "20.00", ref="Q1")
    one(retail, card_refund(memo_id, "10.00"))
    one(retail, refund_check(memo_id, "10.00"))
    one(
        retail,
        "<DepositAddRq><DepositAdd><DepositToAccountRef><FullName>Checking</FullName></DepositToAccountRef>"
        f"<DepositLineAdd><PaymentTxnID>{txn_id(receipt, 'SalesReceipt')}</PaymentTxnID></DepositLineAdd>"
        "</DepositAdd></DepositAddRq>",
    )
    for kind in ("ARRefundCreditCard", "Check", "Deposit", "CreditMemo"):
        rs = one(retail, f"<{kind}QueryRq><IncludeLineItems>true</IncludeLineItems></{kind}QueryRq>")
        assert status(rs)[0] == 0 and len(rs.findall(f"{kind}Ret")) == 1, kind
    assert credits(retail) == Decimal(0)
