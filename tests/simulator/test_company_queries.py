"""Queries: iterators, MaxReturned, name and modified-date filters, RefNumber, IncludeLineItems."""

from __future__ import annotations

from qbsync.simulator import QuickBooksCompany
from tests.simulator.conftest import FakeClock
from tests.simulator.qbxml_messages import (
    customer_add,
    inventory_add,
    message,
    responses,
    sales_add,
    sales_line,
    status,
    valid_response,
)


def names(rs, ret: str = "CustomerRet") -> list[str]:
    return [r.findtext("FullName") or r.findtext("Name") for r in rs.iter(ret)]


def query(company: QuickBooksCompany, request: str):
    (rs,) = responses(valid_response(company.process(message(request))))
    return rs


def add_customers(company: QuickBooksCompany, count: int) -> list[str]:
    wanted = [f"Customer {i:02d}" for i in range(count)]
    company.process(message(*[customer_add(n, str(i)) for i, n in enumerate(wanted)]))
    return wanted


def test_iterator_pages_through_everything_once(company: QuickBooksCompany) -> None:
    wanted = add_customers(company, 12)

    first = query(
        company,
        '<CustomerQueryRq requestID="a" iterator="Start"><MaxReturned>5</MaxReturned></CustomerQueryRq>',
    )
    iterator_id = first.get("iteratorID")
    pages, remaining = [names(first)], [first.get("iteratorRemainingCount")]
    while remaining[-1] != "0":
        page = query(
            company,
            f'<CustomerQueryRq iterator="Continue" iteratorID="{iterator_id}">'
            "<MaxReturned>5</MaxReturned></CustomerQueryRq>",
        )
        assert page.get("iteratorID") == iterator_id
        pages.append(names(page))
        remaining.append(page.get("iteratorRemainingCount"))

    assert [len(p) for p in pages] == [5, 5, 2]
    assert remaining == ["7", "2", "0"]
    assert [n for p in pages for n in p] == wanted
    assert iterator_id.startswith("{") and iterator_id.endswith("}")


def test_iterator_over_finished_or_unknown_id_is_an_error(company: QuickBooksCompany) -> None:
    """Code 3000 (invalid object ID, Intuit status code table); its text is assumed."""
    add_customers(company, 3)
    first = query(company, '<CustomerQueryRq iterator="Start"><MaxReturned>2</MaxReturned></CustomerQueryRq>')
    continue_rq = (
        '<CustomerQueryRq iterator="Continue" iteratorID="{id}"><MaxReturned>2</MaxReturned>'
        "</CustomerQueryRq>"
    )
    last = query(company, continue_rq.format(id=first.get("iteratorID")))
    assert (status(last)[0], last.get("iteratorRemainingCount")) == (0, "0")

    finished = query(company, continue_rq.format(id=first.get("iteratorID")))
    unknown = query(company, continue_rq.format(id="{00000000-0000-0000-0000-000000000000}"))

    assert status(finished)[:2] == (3000, "Error")
    assert status(unknown)[:2] == (3000, "Error") and "iteratorID" in status(unknown)[2]


def test_iterator_stop_releases_it_and_a_new_session_forgets_it(company: QuickBooksCompany) -> None:
    add_customers(company, 5)
    first = query(company, '<CustomerQueryRq iterator="Start"><MaxReturned>1</MaxReturned></CustomerQueryRq>')
    second = query(
        company, '<CustomerQueryRq iterator="Start"><MaxReturned>1</MaxReturned></CustomerQueryRq>'
    )

    stopped = query(
        company, f'<CustomerQueryRq iterator="Stop" iteratorID="{first.get("iteratorID")}"></CustomerQueryRq>'
    )
    after_stop = query(
        company,
        f'<CustomerQueryRq iterator="Continue" iteratorID="{first.get("iteratorID")}">'
        "<MaxReturned>1</MaxReturned></CustomerQueryRq>",
    )
    company.end_session()
    after_session = query(
        company,
        f'<CustomerQueryRq iterator="Continue" iteratorID="{second.get("iteratorID")}">'
        "<MaxReturned>1</MaxReturned></CustomerQueryRq>",
    )

    assert status(stopped)[0] == 0
    assert status(after_stop)[0] == 3000 and status(after_session)[0] == 3000


def test_max_returned_without_iterator_cuts_the_list(company: QuickBooksCompany) -> None:
    wanted = add_customers(company, 4)

    rs = query(company, "<CustomerQueryRq><MaxReturned>3</MaxReturned></CustomerQueryRq>")

    assert names(rs) == wanted[:3] and rs.get("iteratorID") is None


def test_meta_data_only_counts(company: QuickBooksCompany) -> None:
    add_customers(company, 4)

    rs = query(company, '<CustomerQueryRq metaData="MetaDataOnly"></CustomerQueryRq>')

    assert rs.get("retCount") == "4" and len(rs) == 0


def test_name_filters(company: QuickBooksCompany) -> None:
    company.process(
        message(
            customer_add("Alpha Shop", "1"),
            customer_add("Beta Shop", "2"),
            customer_add("Alphabet Inc", "3"),
            customer_add("Gamma", "4"),
        )
    )

    def by(criterion: str, text: str) -> list[str]:
        return names(
            query(
                company,
                f"<CustomerQueryRq><NameFilter><MatchCriterion>{criterion}</MatchCriterion>"
                f"<Name>{text}</Name></NameFilter></CustomerQueryRq>",
            )
        )

    assert by("StartsWith", "alpha") == ["Alpha Shop", "Alphabet Inc"]
    assert by("Contains", "SHOP") == ["Alpha Shop", "Beta Shop"]
    assert by("EndsWith", "inc") == ["Alphabet Inc"]
    ranged = query(
        company,
        "<CustomerQueryRq><NameRangeFilter><FromName>B</FromName><ToName>Beta</ToName>"
        "</NameRangeFilter></CustomerQueryRq>",
    )
    assert names(ranged) == ["Beta Shop"]


def test_active_status(company: QuickBooksCompany) -> None:
    company.process(
        message(
            customer_add("Active One", "1"), customer_add("Retired", "2", extra="<IsActive>false</IsActive>")
        )
    )

    def listed(active: str) -> list[str]:
        return names(
            query(company, f"<CustomerQueryRq><ActiveStatus>{active}</ActiveStatus></CustomerQueryRq>")
        )

    assert names(query(company, "<CustomerQueryRq></CustomerQueryRq>")) == [
        "Active One"
    ]  # ActiveOnly by default
    assert listed("InactiveOnly") == ["Retired"]
    assert listed("All") == ["Active One", "Retired"]
    assert names(query(company, "<CustomerQueryRq><FullName>Retired</FullName></CustomerQueryRq>")) == [
        "Retired"
    ]


def test_modified_date_filters_read_offsets_and_local_time(
    company: QuickBooksCompany, clock: FakeClock
) -> None:
    """Assumed: a filter time without an offset is the company's local time, and the company keeps one
    fixed offset all year (issue 14: QuickBooks reports the zone's standard offset)."""
    # the company clock is 2024-03-01 09:00:00-05:00 (14:00 UTC)
    company.process(message(customer_add("Early")))
    clock.advance(hours=2)
    company.process(message(customer_add("Late")))  # 11:00-05:00 = 16:00 UTC

    def modified(filters: str) -> list[str]:
        return names(query(company, f"<CustomerQueryRq>{filters}</CustomerQueryRq>"))

    assert modified("<FromModifiedDate>2024-03-01T10:00:00</FromModifiedDate>") == ["Late"]  # local time
    assert modified("<FromModifiedDate>2024-03-01T15:00:00+00:00</FromModifiedDate>") == ["Late"]
    assert modified("<FromModifiedDate>2024-03-01T13:00:00+00:00</FromModifiedDate>") == ["Early", "Late"]
    assert modified("<ToModifiedDate>2024-03-01T14:30:00+00:00</ToModifiedDate>") == ["Early"]
    assert modified(
        "<FromModifiedDate>2024-03-01T09:00:00-05:00</FromModifiedDate>"
        "<ToModifiedDate>2024-03-01T09:00:00-05:00</ToModifiedDate>"
    ) == ["Early"]  # inclusive
    assert modified("<ToModifiedDate>2024-03-01</ToModifiedDate>") == ["Early", "Late"]  # the whole day


def test_transaction_queries(company: QuickBooksCompany, clock: FakeClock) -> None:
    company.process(
        message(customer_add("Ann", "1"), customer_add("Bob", "2"), inventory_add("Widget", "2.50"))
    )
    company.process(
        message(
            sales_add(
                "Invoice", "Ann", [sales_line("Invoice", "Widget", "1")], ref_number="WC-100", request_id="1"
            ),
            sales_add(
                "Invoice", "Bob", [sales_line("Invoice", "Widget", "2")], ref_number="wc-101", request_id="2"
            ),
        )
    )
    clock.advance(days=1)
    company.process(
        message(
            sales_add(
                "Invoice",
                "Ann",
                [sales_line("Invoice", "Widget", "4")],
                header="<TxnDate>2024-03-02</TxnDate><RefNumber>SH-1</RefNumber>",
            )
        )
    )

    def refs(filters: str) -> list[str]:
        return [
            r.findtext("RefNumber")
            for r in query(company, f"<InvoiceQueryRq>{filters}</InvoiceQueryRq>").iter("InvoiceRet")
        ]

    assert refs("<RefNumber>WC-101</RefNumber>") == ["wc-101"]  # RefNumber ignores case
    assert refs("<RefNumberCaseSensitive>WC-101</RefNumberCaseSensitive>") == []
    assert refs("<EntityFilter><FullName>Ann</FullName></EntityFilter>") == ["WC-100", "SH-1"]
    assert refs(
        "<RefNumberFilter><MatchCriterion>StartsWith</MatchCriterion><RefNumber>wc</RefNumber>"
        "</RefNumberFilter>"
    ) == ["WC-100", "wc-101"]
    assert refs("<TxnDateRangeFilter><FromTxnDate>2024-03-02</FromTxnDate></TxnDateRangeFilter>") == ["SH-1"]
    assert refs(
        "<ModifiedDateRangeFilter><FromModifiedDate>2024-03-02T00:00:00-05:00</FromModifiedDate>"
        "</ModifiedDateRangeFilter>"
    ) == ["SH-1"]
    assert refs("<PaidStatus>NotPaidOnly</PaidStatus>") == ["WC-100", "wc-101", "SH-1"]
    none = query(company, "<InvoiceQueryRq><RefNumber>nope</RefNumber></InvoiceQueryRq>")
    assert status(none) == (1, "Info", "A query request did not find a matching object in QuickBooks")


def test_include_line_items(company: QuickBooksCompany) -> None:
    """Assumed: a transaction query returns lines only when IncludeLineItems is true."""
    company.process(message(customer_add("Ann"), inventory_add("Widget", "2.50", request_id="2")))
    company.process(message(sales_add("SalesOrder", "Ann", [sales_line("SalesOrder", "Widget", "3")])))

    without = query(company, "<SalesOrderQueryRq></SalesOrderQueryRq>")
    with_lines = query(
        company, "<SalesOrderQueryRq><IncludeLineItems>true</IncludeLineItems></SalesOrderQueryRq>"
    )

    assert list(without.iter("SalesOrderLineRet")) == []
    assert [line.findtext("Quantity") for line in with_lines.iter("SalesOrderLineRet")] == ["3"]
    assert without.findtext("SalesOrderRet/TotalAmount") == "7.50"


def test_item_query_returns_every_item_type(company: QuickBooksCompany) -> None:
    company.process(message(inventory_add("Widget")))

    rs = query(company, "<ItemQueryRq></ItemQueryRq>")

    kinds = {child.tag: child.findtext("Name") for child in rs}
    assert kinds["ItemInventoryRet"] == "Widget"
    assert kinds["ItemOtherChargeRet"] == "Shipping"
    assert "ItemSalesTaxRet" in kinds


def test_standard_company_lists(company: QuickBooksCompany) -> None:
    accounts = {
        r.findtext("Name"): r.findtext("AccountType")
        for r in query(company, "<AccountQueryRq></AccountQueryRq>").iter("AccountRet")
    }
    methods = names(query(company, "<PaymentMethodQueryRq></PaymentMethodQueryRq>"), "PaymentMethodRet")
    codes = {
        r.findtext("Name"): r.findtext("IsTaxable")
        for r in query(company, "<SalesTaxCodeQueryRq></SalesTaxCodeQueryRq>").iter("SalesTaxCodeRet")
    }
    taxes = names(query(company, "<ItemSalesTaxQueryRq></ItemSalesTaxQueryRq>"), "ItemSalesTaxRet")

    assert {
        "Sales": "Income",
        "Merchandise Sales": "Income",
        "Cost of Goods Sold": "CostOfGoodsSold",
        "Inventory Asset": "OtherCurrentAsset",
        "Undeposited Funds": "OtherCurrentAsset",
        "Accounts Receivable": "AccountsReceivable",
        "Checking": "Bank",
    }.items() <= accounts.items()
    assert {"Cash", "Check", "Visa", "MasterCard", "American Express", "Discover", "PayPal"} <= set(methods)
    assert codes == {"Tax": "true", "Non": "false"}
    assert "Out of State" in taxes


def test_a_clock_that_keeps_daylight_saving_time_reports_the_standard_offset() -> None:
    """jsgoupil/quickbooks-sync issue #19 and pull request #28: QuickBooks writes its clock time (which
    follows DST) with the zone's standard offset, and reads a filter's clock time as local time."""
    from datetime import UTC, datetime

    clock = FakeClock(datetime(2024, 7, 1, 14, 0, tzinfo=UTC))  # 10:00 EDT
    company = QuickBooksCompany(zone="America/New_York", clock=clock)
    company.process(message(customer_add("Summer")))

    assert company.find("Customer", "Summer")["TimeModified"] == "2024-07-01T10:00:00-05:00"

    def modified(filters: str) -> list[str]:
        return names(query(company, f"<CustomerQueryRq>{filters}</CustomerQueryRq>"))

    assert modified("<FromModifiedDate>2024-07-01T09:59:00-05:00</FromModifiedDate>") == ["Summer"]
    # 13:59 UTC is before the change, but QuickBooks reads the clock time 13:59: after it.
    assert modified("<FromModifiedDate>2024-07-01T13:59:00+00:00</FromModifiedDate>") == []
