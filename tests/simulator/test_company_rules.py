"""The status codes QuickBooks answers with: 3100, 3140, 3200, 3231, 3120, 500, 1, unsupported requests."""

from __future__ import annotations

import pytest

from qbsync.simulator import QuickBooksCompany
from tests.simulator.qbxml_messages import (
    customer_add,
    inventory_add,
    message,
    responses,
    ret,
    sales_add,
    sales_line,
    status,
    valid_response,
)


def codes(company: QuickBooksCompany, *requests: str, on_error: str = "stopOnError") -> list[int]:
    return [
        status(rs)[0]
        for rs in responses(valid_response(company.process(message(*requests, on_error=on_error))))
    ]


def test_customer_names_are_unique_case_insensitively(company: QuickBooksCompany) -> None:
    assert codes(company, customer_add("Jane Doe")) == [0]

    (rs,) = responses(company.process(message(customer_add("JANE DOE"))))

    assert status(rs) == (3100, "Error", 'The name "JANE DOE" of the list element is already in use.')
    assert len(company.customers()) == 1


@pytest.mark.parametrize("other", ["Vendor", "Employee", "OtherName"])
def test_a_customer_name_collides_with_the_other_name_lists(company: QuickBooksCompany, other: str) -> None:
    assert codes(
        company, f"<{other}AddRq><{other}Add><Name>Acme Supply</Name></{other}Add></{other}AddRq>"
    ) == [0]

    assert codes(company, customer_add("acme supply")) == [3100]
    assert company.find("Customer", "Acme Supply") is None


def test_item_names_are_unique_across_item_types(company: QuickBooksCompany) -> None:
    service = (
        "<ItemServiceAddRq><ItemServiceAdd><Name>Gift Wrap</Name><SalesOrPurchase><Price>3.00</Price>"
        "<AccountRef><FullName>Sales</FullName></AccountRef></SalesOrPurchase></ItemServiceAdd>"
        "</ItemServiceAddRq>"
    )
    assert codes(company, service) == [0]

    assert codes(company, inventory_add("GIFT WRAP")) == [3100]
    # the standard company's "Shipping" other-charge item takes that name too
    assert codes(company, inventory_add("Shipping")) == [3100]
    # but a customer may share an item's name: customers and items are different name spaces
    assert codes(company, customer_add("Gift Wrap")) == [0]


def test_reference_to_a_missing_customer_is_3140(company: QuickBooksCompany) -> None:
    (rs,) = responses(
        company.process(
            message(
                sales_add("SalesOrder", "Joe Smith", [sales_line("SalesOrder", "Shipping", amount="5.00")])
            )
        )
    )

    assert status(rs) == (
        3140,
        "Error",
        'There is an invalid reference to QuickBooks Customer "Joe Smith" in the '
        "SalesOrder.  QuickBooks error message: Invalid argument.  The specified record does not "
        "exist in the list.",
    )
    assert company.transactions("SalesOrder") == []


def test_reference_to_a_missing_item_names_the_line(company: QuickBooksCompany) -> None:
    codes(company, customer_add("Jane Doe"))

    (rs,) = responses(
        company.process(
            message(sales_add("Invoice", "Jane Doe", [sales_line("Invoice", "No Such Item", "1")]))
        )
    )

    assert status(rs)[0] == 3140
    assert 'Item "No Such Item" in the Invoice line.' in status(rs)[2]


def test_reference_by_unknown_list_id_is_3140(company: QuickBooksCompany) -> None:
    add = (
        "<ItemInventoryAddRq><ItemInventoryAdd><Name>Widget</Name><IncomeAccountRef><ListID>80000999-1</ListID>"
        "</IncomeAccountRef></ItemInventoryAdd></ItemInventoryAddRq>"
    )

    (rs,) = responses(company.process(message(add)))

    assert status(rs)[0] == 3140 and 'Account "80000999-1"' in status(rs)[2]


def test_stale_edit_sequence_is_3200_and_changes_nothing(company: QuickBooksCompany, clock) -> None:
    (added,) = responses(company.process(message(customer_add("Jane Doe"))))
    first = ret(added, "CustomerRet")
    mod = (
        "<CustomerModRq><CustomerMod><ListID>{id}</ListID><EditSequence>{seq}</EditSequence>"
        "<Phone>{phone}</Phone></CustomerMod></CustomerModRq>"
    )
    clock.advance(seconds=5)
    (modified,) = responses(
        company.process(message(mod.format(id=first["ListID"], seq=first["EditSequence"], phone="555-0100")))
    )
    second = ret(modified, "CustomerRet")
    assert status(modified)[0] == 0
    assert second["EditSequence"] != first["EditSequence"]
    assert second["TimeModified"] > first["TimeModified"] and second["TimeCreated"] == first["TimeCreated"]

    (stale,) = responses(
        company.process(message(mod.format(id=first["ListID"], seq=first["EditSequence"], phone="555-0199")))
    )

    assert status(stale) == (
        3200,
        "Error",
        f'The provided edit sequence "{first["EditSequence"]}" is out-of-date. ',
    )
    assert company.find("Customer", "Jane Doe")["Phone"] == "555-0100"


def test_edit_sequence_changes_on_every_modify_even_within_one_second(company: QuickBooksCompany) -> None:
    (added,) = responses(company.process(message(customer_add("Jane Doe"))))
    record = ret(added, "CustomerRet")
    seen = {record["EditSequence"]}
    for phone in ("1", "2", "3"):
        mod = (
            f"<CustomerModRq><CustomerMod><ListID>{record['ListID']}</ListID>"
            f"<EditSequence>{record['EditSequence']}</EditSequence><Phone>{phone}</Phone></CustomerMod>"
            "</CustomerModRq>"
        )
        (rs,) = responses(company.process(message(mod)))
        record = ret(rs, "CustomerRet")
        seen.add(record["EditSequence"])
    assert len(seen) == 4


def test_mod_of_an_unknown_list_id_is_3120(company: QuickBooksCompany) -> None:
    mod = (
        "<CustomerModRq><CustomerMod><ListID>8000ABCD-1405768916</ListID><EditSequence>1</EditSequence>"
        "<Phone>1</Phone></CustomerMod></CustomerModRq>"
    )

    (rs,) = responses(company.process(message(mod)))

    assert status(rs) == (
        3120,
        "Error",
        'Object "8000ABCD-1405768916" specified in the request cannot be found.  '
        "QuickBooks error message: Invalid argument.  The specified record does not exist in the "
        "list.",
    )


def test_renaming_into_a_taken_name_is_3100(company: QuickBooksCompany) -> None:
    first, second = responses(company.process(message(customer_add("Ann"), customer_add("Bob", "2"))))
    bob = ret(second, "CustomerRet")
    mod = (
        f"<CustomerModRq><CustomerMod><ListID>{bob['ListID']}</ListID><EditSequence>{bob['EditSequence']}"
        "</EditSequence><Name>ANN</Name></CustomerMod></CustomerModRq>"
    )

    assert codes(company, mod) == [3100]
    assert company.find("Customer", bob["ListID"])["Name"] == "Bob"


def test_stop_on_error_answers_the_rest_with_3231(company: QuickBooksCompany) -> None:
    requests = [
        customer_add("Ann", "1"),
        customer_add("Ann", "2"),
        customer_add("Bob", "3"),
        customer_add("Cy", "4"),
    ]

    answers = responses(company.process(message(*requests, on_error="stopOnError")))

    assert [(rs.get("requestID"), status(rs)[0]) for rs in answers] == [
        ("1", 0),
        ("2", 3100),
        ("3", 3231),
        ("4", 3231),
    ]
    assert status(answers[2]) == (3231, "Error", "The request has not been processed.")
    assert [c["Name"] for c in company.customers()] == ["Ann"]


def test_continue_on_error_tries_every_request(company: QuickBooksCompany) -> None:
    requests = [customer_add("Ann", "1"), customer_add("Ann", "2"), customer_add("Bob", "3")]

    assert codes(company, *requests, on_error="continueOnError") == [0, 3100, 0]
    assert sorted(c["Name"] for c in company.customers()) == ["Ann", "Bob"]


def test_rollback_on_error_stops_like_stop_on_error(company: QuickBooksCompany) -> None:
    """Assumed: rollbackOnError (in the XSD; PROTOCOL.md calls its honouring unverified) stops like
    stopOnError and rolls nothing back."""
    requests = [customer_add("Ann", "1"), customer_add("Ann", "2"), customer_add("Bob", "3")]

    assert codes(company, *requests, on_error="rollbackOnError") == [0, 3100, 3231]


def test_warnings_and_no_match_do_not_stop_the_message_set(company: QuickBooksCompany) -> None:
    requests = [
        "<CustomerQueryRq><FullName>Nobody</FullName></CustomerQueryRq>",
        "<ItemInventoryQueryRq><NameFilter><MatchCriterion>StartsWith</MatchCriterion><Name>zz</Name>"
        "</NameFilter></ItemInventoryQueryRq>",
        customer_add("Ann"),
    ]

    answers = responses(company.process(message(*requests)))

    assert [status(rs)[:2] for rs in answers] == [(500, "Warn"), (1, "Info"), (0, "Info")]
    assert status(answers[0])[2] == (
        "The query request has not been fully completed. There was a required element "
        '("Nobody") that could not be found in QuickBooks.'
    )
    assert status(answers[1])[2] == "A query request did not find a matching object in QuickBooks"


def test_query_by_unknown_list_id_is_3120_and_partly_known_is_500(company: QuickBooksCompany) -> None:
    (added,) = responses(company.process(message(customer_add("Ann"))))
    known = ret(added, "CustomerRet")["ListID"]

    (missing,) = responses(
        company.process(message("<CustomerQueryRq><ListID>8000001B-1405768916</ListID></CustomerQueryRq>"))
    )
    (partial,) = responses(
        company.process(
            message(
                f"<CustomerQueryRq><ListID>{known}</ListID>"
                "<ListID>8000001B-1405768916</ListID></CustomerQueryRq>"
            )
        )
    )

    assert status(missing)[0] == 3120 and '"8000001B-1405768916"' in status(missing)[2]
    assert status(partial)[0] == 500
    assert [r.findtext("ListID") for r in partial.iter("CustomerRet")] == [known]


def test_query_by_unknown_txn_id_is_3120(company: QuickBooksCompany) -> None:
    assert codes(company, "<InvoiceQueryRq><TxnID>1A2B-1234567890</TxnID></InvoiceQueryRq>") == [3120]


def test_unsupported_request_type_answers_a_clear_status(company: QuickBooksCompany) -> None:
    """The code is Intuit's 1030 (status code table, PROTOCOL.md section 7); its text naming what is not
    simulated is assumed."""
    bill = (
        "<BillAddRq><BillAdd><VendorRef><FullName>State Board of Equalization</FullName></VendorRef>"
        "<ExpenseLineAdd><AccountRef><FullName>Merchant Account Fees</FullName></AccountRef>"
        "<Amount>1.00</Amount></ExpenseLineAdd></BillAdd></BillAddRq>"
    )

    answers = responses(
        valid_response(company.process(message(bill, customer_add("Ann"), on_error="continueOnError")))
    )

    assert answers[0].tag == "BillAddRs"
    code, severity, text = status(answers[0])
    assert (code, severity) == (1030, "Error") and "BillAddRq" in text
    assert status(answers[1])[0] == 0


def test_response_data_include_none_leaves_out_the_ret(company: QuickBooksCompany) -> None:
    document = message(customer_add("Ann")).replace(
        'onError="stopOnError"', 'onError="stopOnError" responseData="includeNone"'
    )

    (rs,) = responses(company.process(document))

    assert status(rs)[0] == 0 and len(rs) == 0
    assert company.find("Customer", "Ann") is not None


def test_sub_customer_full_name_and_sublevel(company: QuickBooksCompany) -> None:
    job = customer_add("Kitchen", "2", extra="<ParentRef><FullName>Ann</FullName></ParentRef>")

    _, rs = responses(valid_response(company.process(message(customer_add("Ann"), job))))

    job_ret = ret(rs, "CustomerRet")
    assert (job_ret["FullName"], job_ret["Sublevel"]) == ("Ann:Kitchen", "1")
    assert codes(company, customer_add("Kitchen")) == [0]  # a top-level "Kitchen" is a different full name
