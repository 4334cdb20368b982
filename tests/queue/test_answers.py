"""One reading of QuickBooks' answers for every handler: what was found, and which reference a 3140 names,
checked on answers the simulated QuickBooks gives (no database)."""

from __future__ import annotations

from qbsync.qbxml.parse import Response, parse_response
from qbsync.qbxml.render import build_message, render_request
from qbsync.queue.causes import cause_of
from qbsync.queue.handlers import answers
from qbsync.simulator.company import QuickBooksCompany


def _ask(company: QuickBooksCompany, request_type: str, data: dict) -> Response:
    fragment = render_request(request_type, data, request_id="1")
    return next(iter(parse_response(company.process(build_message([fragment])))))


def test_a_query_that_finds_nothing_is_readable_and_carries_no_record():
    company = QuickBooksCompany()
    none = _ask(company, "CustomerQuery", {"FullName": "Doe, John"})
    assert none.status_code == 500 and answers.readable(none)  # a name not found is a warning, not an error
    assert answers.found_records(none, "CustomerRet") == [] and answers.found_record(none) is None
    added = _ask(company, "CustomerAdd", {"Name": "Doe, John"})
    assert answers.found_record(added)["FullName"] == "Doe, John"
    again = _ask(company, "CustomerQuery", {"FullName": "Doe, John"})
    assert [r["FullName"] for r in answers.found_records(again, "CustomerRet")] == ["Doe, John"]
    assert answers.found_records(again, "VendorRet") == []


def test_a_3140_names_the_kind_and_the_name_quickbooks_lacks():
    company = QuickBooksCompany()
    refused = _ask(company, "InvoiceAdd", {
        "CustomerRef": {"FullName": "Nobody, Ann"}, "RefNumber": "1001",
        "InvoiceLineAdd": [{"Desc": "Mug", "Amount": "5.00"}],
    })
    assert refused.status_code == 3140
    missing = answers.missing_reference(refused)
    assert missing is not None and missing.name == "Nobody, Ann"
    assert missing.kind in ("Customer", "Entity")
    assert answers.lacks(refused, missing.kind) and not answers.lacks(refused, "PaymentMethod")
    # The Sync errors page reads the same answer the same way.
    assert cause_of(refused.status_code, refused.message, None).missing_name == "Nobody, Ann"


def test_only_a_3140_names_a_missing_reference():
    company = QuickBooksCompany()
    _ask(company, "CustomerAdd", {"Name": "Doe, John"})
    taken = _ask(company, "CustomerAdd", {"Name": "Doe, John"})
    assert taken.status_code == 3100
    assert answers.missing_reference(taken) is None and not answers.lacks(taken, "Customer")
    assert not answers.found(taken) and not answers.readable(taken)
