"""Rejected documents, injected faults, crashes after processing, persistence and concurrent use."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from lxml import etree

from qbsync.simulator import QbxmlRequestRejected, QuickBooksCompany, SimulatedCrash
from tests.simulator.qbxml_messages import (
    customer_add,
    inventory_add,
    message,
    responses,
    sales_add,
    sales_line,
    status,
)

PARSE_ERROR = ("0x80040400", "QuickBooks found an error when parsing the provided XML text stream.")


@pytest.mark.parametrize(
    "document",
    [
        # CompanyName before Name: the XSD enforces element order
        message(
            "<CustomerAddRq><CustomerAdd><CompanyName>Acme</CompanyName><Name>Acme</Name></CustomerAdd>"
            "</CustomerAddRq>"
        ),
        message(customer_add("x" * 42)),  # Name is at most 41 characters
        message(customer_add("Ann")).replace(' onError="stopOnError"', ""),  # onError is required
        message(customer_add("Ann"))[:-20],  # not well-formed
        message(customer_add("Ann")).replace('<?qbxml version="13.0"?>', ""),  # no version instruction
        message(customer_add("Ann"), version="16.0"),  # newer than this QuickBooks supports
    ],
    ids=["element-order", "too-long", "no-onError", "truncated", "no-version", "version-too-new"],
)
def test_invalid_document_is_rejected_whole(company: QuickBooksCompany, document: str) -> None:
    """Intuit names 0x80040400 the XML parse error (QBWC guide, PROTOCOL.md section 7); that QuickBooks
    refuses every XSD violation this way, processing nothing, is assumed."""
    with pytest.raises(QbxmlRequestRejected) as caught:
        company.process(document)

    assert (caught.value.hresult, caught.value.message) == PARSE_ERROR
    assert company.customers() == []
    assert company.request_log[-1].response is None
    assert (company.request_log[-1].hresult, company.request_log[-1].message) == PARSE_ERROR


def test_elements_newer_than_the_company_version_are_rejected() -> None:
    """Assumed: a document asking a newer qbXML version than the QuickBooks supports fails as a parse
    error."""
    old = QuickBooksCompany(profile="legacy", qbxml_version="13.0")
    new = QuickBooksCompany(profile="legacy", qbxml_version="16.0")
    # AlertQueryRq exists from qbXML 16.0 on
    document = message("<AlertQueryRq><OwnerID>0</OwnerID></AlertQueryRq>", version="13.0")

    with pytest.raises(QbxmlRequestRejected):
        old.process(document)
    assert status(responses(new.process(document))[0])[0] == 1030  # valid, just not simulated


def test_injected_lock_error_answers_once_then_processing_resumes(company: QuickBooksCompany) -> None:
    company.inject(code=3175, request_type="CustomerAdd", times=1)

    first = responses(
        company.process(message(inventory_add("Widget"), customer_add("Ann", "2"), customer_add("Bob", "3")))
    )
    second = responses(company.process(message(customer_add("Ann"))))

    assert [status(rs)[0] for rs in first] == [0, 3175, 3231]
    assert status(first[1])[1] == "Error" and "could not be locked" in status(first[1])[2]
    assert [status(rs)[0] for rs in second] == [0]
    assert [c["Name"] for c in company.customers()] == ["Ann"]


def test_injected_error_with_own_message_on_any_request(company: QuickBooksCompany) -> None:
    company.inject(
        code=3180,
        message="There was an error when saving a Customer list. QuickBooks error message: "
        "This list has been modified by another user.",
        times=2,
    )

    answers = responses(
        company.process(
            message(
                customer_add("Ann"),
                customer_add("Bob", "2"),
                customer_add("Cy", "3"),
                on_error="continueOnError",
            )
        )
    )

    assert [status(rs)[0] for rs in answers] == [3180, 3180, 0]
    assert "modified by another user" in status(answers[0])[2]


def test_crash_after_processing_keeps_the_changes_but_gives_no_answer(company: QuickBooksCompany) -> None:
    company.crash_after_processing(times=1)

    with pytest.raises(SimulatedCrash):
        company.process(message(customer_add("Ann")))

    assert [c["Name"] for c in company.customers()] == ["Ann"]
    assert company.request_log[-1].crashed
    # the retry that follows a lost answer meets the record it already made
    assert status(responses(company.process(message(customer_add("Ann"))))[0])[0] == 3100


def test_a_request_quickbooks_crashes_on_stops_the_document_there_and_nothing_is_answered(
        company: QuickBooksCompany) -> None:
    company.crash_on("Bob")

    three = customer_add("Ann", "1") + customer_add("Bob", "2") + customer_add("Cy", "3")
    with pytest.raises(SimulatedCrash):
        company.process(message(three, on_error="continueOnError"))

    assert [c["Name"] for c in company.customers()] == ["Ann"]  # done before the crash; Bob and Cy not
    assert company.request_log[-1].crashed and company.request_log[-1].response is None
    with pytest.raises(SimulatedCrash):  # every time
        company.process(message(customer_add("Bob")))
    assert [c["Name"] for c in company.customers()] == ["Ann"]


def test_a_dropped_answer_leaves_its_request_undone_and_out_of_the_response(
        company: QuickBooksCompany) -> None:
    """A test device: that QuickBooks answers a document without one of its answers is assumed."""
    company.drop_answers_to("Bob")

    three = customer_add("Ann", "1") + customer_add("Bob", "2") + customer_add("Cy", "3")
    answer = company.process(message(three, on_error="continueOnError"))

    assert [(rs.get("requestID"), status(rs)[0]) for rs in responses(answer)] == [("1", 0), ("3", 0)]
    assert sorted(c["Name"] for c in company.customers()) == ["Ann", "Cy"]
    assert responses(company.process(message(customer_add("Bob")))) == []  # every time


def test_rejection_can_be_injected(company: QuickBooksCompany) -> None:
    company.reject_next(hresult="0x80040408", message="Could not start QuickBooks.")

    with pytest.raises(QbxmlRequestRejected) as caught:
        company.process(message(customer_add("Ann")))

    assert caught.value.hresult == "0x80040408"
    assert company.customers() == []
    assert status(responses(company.process(message(customer_add("Ann"))))[0])[0] == 0


def test_a_document_with_text_quickbooks_cannot_parse_is_rejected_whole(company: QuickBooksCompany) -> None:
    company.fail_to_parse("Ann")

    with pytest.raises(QbxmlRequestRejected) as caught:
        company.process(message(customer_add("Bob") + customer_add("Ann")))

    assert (caught.value.hresult, caught.value.message) == PARSE_ERROR
    assert company.customers() == []  # Bob's add, before Ann's, was not done either
    assert status(responses(company.process(message(customer_add("Bob"))))[0])[0] == 0


def test_a_garbled_answer_is_cut_short_but_the_work_is_done(company: QuickBooksCompany) -> None:
    company.garble_answers_to("Ann")

    answer = company.process(message(customer_add("Bob") + customer_add("Ann")))

    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(answer.encode())
    assert sorted(c["Name"] for c in company.customers()) == ["Ann", "Bob"]
    assert company.request_log[-1].response == answer
    assert status(responses(company.process(message(customer_add("Cy"))))[0])[0] == 0


def test_request_log_keeps_every_document_and_answer(company: QuickBooksCompany) -> None:
    documents = [message(customer_add("Ann")), message(customer_add("Bob"))]
    answers = [company.process(d) for d in documents]

    assert [(e.request, e.response) for e in company.request_log] == list(
        zip(documents, answers, strict=True)
    )


def test_save_and_load_round_trip(company: QuickBooksCompany, tmp_path: Path) -> None:
    company.process(message(customer_add("Ann"), inventory_add("Widget", "3.00", "10", "2")))
    company.process(
        message(sales_add("Invoice", "Ann", [sales_line("Invoice", "Widget", "4")], ref_number="9"))
    )
    company.set_data_ext("{owner}", "FileID", "{file}")
    path = company.save(tmp_path / "company.json")

    loaded = QuickBooksCompany.load(path)

    assert loaded.customers() == company.customers()
    assert loaded.items() == company.items()
    assert loaded.transactions() == company.transactions()
    assert loaded.get_data_ext("{owner}", "FileID") == "{file}"
    assert loaded.quantity_on_hand("Widget") == 6
    # IDs keep counting where they stopped, and the names stay taken
    answers = responses(
        loaded.process(message(customer_add("Ann"), customer_add("Bob", "2"), on_error="continueOnError"))
    )
    assert [status(rs)[0] for rs in answers] == [3100, 0]
    existing_ids = {r["ListID"] for r in company.customers()} | {r["ListID"] for r in company.items()}
    assert answers[1].findtext("CustomerRet/ListID") not in existing_ids


def test_open_creates_then_keeps_the_file(tmp_path: Path) -> None:
    path = tmp_path / "kept.json"
    company = QuickBooksCompany.open(path)
    company.process(message(customer_add("Ann")))

    reopened = QuickBooksCompany.open(path)

    assert [c["Name"] for c in reopened.customers()] == ["Ann"]


def test_loading_something_else_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text('{"hello": 1}')

    with pytest.raises(ValueError, match="not a simulated company file"):
        QuickBooksCompany.load(path)


def test_unknown_qbxml_version_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown qbXML version"):
        QuickBooksCompany(profile="legacy", qbxml_version="13.5")


def test_concurrent_documents_are_processed_one_at_a_time(company: QuickBooksCompany) -> None:
    """Assumed: QuickBooks works on one request document at a time."""
    errors: list[BaseException] = []

    def worker(number: int) -> None:
        try:
            for index in range(10):
                company.process(message(customer_add(f"Customer {number}-{index}")))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    customers = company.customers()
    assert len(customers) == 40
    assert len({c["ListID"] for c in customers}) == 40
    assert len({c["EditSequence"] for c in customers}) == 40


def test_latency_is_spent_on_every_processed_request(clock) -> None:
    slept: list[float] = []
    company = QuickBooksCompany(profile="legacy", clock=clock, latency_seconds=0.25, sleep=slept.append)

    company.process(message(customer_add("Ann"), customer_add("Ann", "2"), customer_add("Bob", "3")))

    assert slept == [0.25, 0.25]  # the third request was never processed (3231 after the 3100)
