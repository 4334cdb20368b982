"""Split to isolate: a batch QuickBooks fails as a whole is sent again in halves until the one record at
fault fails alone; every other record gets into QuickBooks exactly once, and the bad one is not resent
session after session."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from lxml import etree
from sqlalchemy import select, update

from qbsync.queue.intake import record_changed_many
from qbsync.simulator.company import PARSE_ERROR_HRESULT, PARSE_ERROR_MESSAGE
from qbsync.storage.models import Connection, JobAttempt, QueueJob, utcnow
from tests.accounting import check_synced_order
from tests.engine.conftest import make_order

NUMBERS = range(4001, 4021)  # 20 orders, sent together in one batch
POISONED = 4007
# One profile (the default): these are the slowest engine tests (20 orders split again and again) and
# about qbXML batches, the same on every company; the books are checked on one order.


def _queue_orders(shop, note_of=lambda n: "") -> None:
    with shop.runtime.db.transaction() as session:
        record_changed_many(session, session.get(Connection, shop.connection_id), "order",
                            [make_order(n, note=note_of(n)) for n in NUMBERS])


def _ref_numbers(shop) -> Counter:
    return Counter(t["RefNumber"] for t in shop.company.transactions("SalesReceipt"))


def _documents_with(shop, marker: str) -> int:
    return sum(marker in entry.request for entry in shop.company.request_log)


def _outcomes(shop, job_id: int) -> list[str | None]:
    with shop.runtime.db.transaction() as session:
        return list(session.scalars(
            select(JobAttempt.outcome).where(JobAttempt.job_id == job_id).order_by(JobAttempt.id)))


def _order_job(shop, number: int) -> QueueJob:
    (job,) = shop.jobs(QueueJob.kind == "order", QueueJob.record_id == str(number))
    return job


@pytest.mark.parametrize("profile", ["retail", "service"])
def test_an_order_quickbooks_cannot_parse_is_isolated_and_the_other_nineteen_go_through_once(shop):
    marker = "gift wrap POISON-7F3A"
    shop.company.fail_to_parse(marker)
    _queue_orders(shop, lambda n: marker if n == POISONED else "")
    reports = shop.sync()

    good = {str(n) for n in NUMBERS} - {str(POISONED)}
    assert _ref_numbers(shop) == Counter({ref: 1 for ref in good})
    assert len(shop.jobs(QueueJob.kind == "order", QueueJob.state == "done")) == len(good)
    parked = _order_job(shop, POISONED)
    assert parked.state == "parked"
    assert PARSE_ERROR_HRESULT in parked.reason and PARSE_ERROR_MESSAGE in parked.reason
    sent = etree.fromstring(parked.last_request_xml.encode())
    assert sent.tag == "SalesReceiptAddRq" and marker in sent.findtext("SalesReceiptAdd/Memo")
    assert parked.last_message and PARSE_ERROR_MESSAGE in parked.last_message
    # The whole batch failed first (all twenty adds in one document), then ever smaller ones, all in the
    # same session, which then ended normally and said what needs a person.
    refused = [e for e in shop.company.request_log if e.hresult == PARSE_ERROR_HRESULT]
    sizes = [e.request.count("<SalesReceiptAddRq") for e in refused]
    assert sizes[0] == len(NUMBERS) and sizes[-1] == 1 and sizes == sorted(sizes, reverse=True)
    assert len(refused) <= 6  # log2(20) rounded up, plus the lone one
    isolating = next(r for r in reports if r.hresults)
    assert isolating.ended_by == "closeConnection" and "1 needs attention" in isolating.close_text
    assert _outcomes(shop, parked.id)[-1] == "park"
    check_synced_order(shop.company, make_order(NUMBERS[0]))

    # Parked, it is not sent again, however many sessions follow.
    before = _documents_with(shop, marker)
    shop.feed("order", make_order(4100))  # new work, so the sessions do send something
    shop.sync(sessions=3)
    assert _documents_with(shop, marker) == before
    assert _order_job(shop, POISONED).attempts == parked.attempts
    assert _ref_numbers(shop)["4100"] == 1
    shop.assert_every_request_valid()


@pytest.mark.parametrize("profile", ["retail", "service"])
def test_two_bad_orders_in_one_batch_are_both_found(shop):
    markers = {4003: "POISON-ONE", 4018: "POISON-TWO"}
    for marker in markers.values():
        shop.company.fail_to_parse(marker)
    _queue_orders(shop, lambda n: markers.get(n, ""))
    shop.sync()

    assert sorted(j.record_id for j in shop.jobs(QueueJob.state == "parked")) == ["4003", "4018"]
    assert _ref_numbers(shop) == Counter({str(n): 1 for n in NUMBERS if n not in markers})


@pytest.mark.parametrize("profile", ["retail", "service"])
def test_an_unreadable_answer_is_isolated_too_and_retried_alone_with_backoff(shop):
    # QuickBooks processes every document holding this order's number, but its answer comes back cut off.
    marker = f"<RefNumber>{POISONED}</RefNumber>"
    shop.company.garble_answers_to(marker)
    _queue_orders(shop)
    shop.sync()

    good = {str(n) for n in NUMBERS} - {str(POISONED)}
    assert _ref_numbers(shop) == Counter({ref: 1 for ref in good})  # looked up after the lost answers
    isolated = _order_job(shop, POISONED)
    assert (isolated.state, isolated.failed_sessions, isolated.needs_lookup) == ("pending", 1, True)
    assert "could not be read" in isolated.reason and "retried alone" in isolated.reason
    assert isolated.not_before >= isolated.updated_at + timedelta(seconds=60)  # retry_base_seconds
    assert marker in isolated.last_request_xml
    garbled = [e for e in shop.company.request_log if marker in e.request]
    assert isolated.last_response_xml.strip() == garbled[-1].response.strip()  # the damaged answer, kept
    assert garbled[0].request.count("<RefNumber>") > 1  # it first spoiled a whole batch (a shared look-up)

    # Within the backoff, sessions leave it alone.
    shop.feed("order", make_order(4100))
    shop.sync(sessions=2)
    assert _documents_with(shop, marker) == len(garbled)

    # Each time the wait is over it goes out alone; after corrective_after_sessions (3) it is parked.
    states = []
    for _ in range(2):
        _time_passes_for(shop, isolated.id)
        shop.sync(sessions=1)
        job = _order_job(shop, POISONED)
        states.append((job.state, job.failed_sessions))
        lone = [e for e in shop.company.request_log if marker in e.request][-1]
        assert lone.request.count("requestID=") == 1
        if job.state == "pending":
            assert job.not_before - job.updated_at == timedelta(seconds=120)  # the wait doubled
    assert states == [("pending", 2), ("parked", 2)]
    assert "3 sessions" in job.reason and "could not be read" in job.reason
    assert _outcomes(shop, job.id)[-1] == "park"
    assert _ref_numbers(shop)[str(POISONED)] == 0  # only ever looked up: never added
    shop.assert_every_request_valid()


def _time_passes_for(shop, job_id: int) -> None:
    with shop.runtime.db.transaction() as session:
        session.execute(update(QueueJob).where(QueueJob.id == job_id)
                        .values(not_before=utcnow() - timedelta(seconds=1)))
