"""No job goes round for ever: a request QuickBooks never answers, a change QuickBooks keeps refusing as
stale (3200) and an answer that cannot be read each end, after a bounded number of tries, with the job
waiting for a person and a reason that names the fix; the other orders go through, each exactly once, and
nothing is booked twice."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update

from qbsync.queue import jobs
from qbsync.queue.handlers.steps import STALE_LIMIT
from qbsync.queue.intake import record_changed_many
from qbsync.storage.models import Connection, QueueJob, utcnow
from tests.accounting import check_synced_order
from tests.engine.conftest import make_order

# Lost answers, stale changes and busy answers touch no stock and no tax: the default company and one with
# neither (service), whose account names are not qbsync's defaults.
ON_TWO_COMPANIES = pytest.mark.parametrize("profile", ["retail", "service"])

NUMBERS = (5001, 5002, 5003)
BAD = 5002  # the second of its batch: the sale before it in the batch is done when QuickBooks dies on it
MARKER = "gift wrap NO-ANSWER-5F"  # in the bad order's note, so only its add carries it


def _queue_orders(shop) -> None:
    with shop.runtime.db.transaction() as session:
        record_changed_many(session, session.get(Connection, shop.connection_id), "order",
                            [make_order(n, note=MARKER if n == BAD else "") for n in NUMBERS])


def _order_job(shop, number: int) -> QueueJob:
    (job,) = shop.jobs(QueueJob.kind == "order", QueueJob.record_id == str(number))
    return job


def _ref_numbers(shop) -> Counter:
    return Counter(t["RefNumber"] for t in shop.company.transactions("SalesReceipt"))


def _bad_adds(shop) -> int:
    return sum(MARKER in request for request in shop.requests("SalesReceiptAddRq"))


def _after_the_wait(shop, job_id: int) -> None:
    """The job's wait before its next try (the default backoff) is over: sessions run."""
    with shop.runtime.db.transaction() as session:
        session.execute(update(QueueJob).where(QueueJob.id == job_id)
                        .values(not_before=utcnow() - timedelta(seconds=1)))
    shop.sync()


def _until_parked(shop, job_id: int, rounds: int = 6) -> QueueJob:
    """Let each wait of the job's backoff pass and sync, until it is parked (or ``rounds`` waits)."""
    for _ in range(rounds):
        (job,) = shop.jobs(QueueJob.id == job_id)
        if job.state == "parked":
            return job
        _after_the_wait(shop, job_id)
    (job,) = shop.jobs(QueueJob.id == job_id)
    return job


def _check_the_others_went_through_once(shop) -> None:
    good = [n for n in NUMBERS if n != BAD]
    assert _ref_numbers(shop) == Counter({str(n): 1 for n in good})  # none twice, the bad one not at all
    assert [_order_job(shop, n).state for n in good] == ["done"] * len(good)
    check_synced_order(shop.company, make_order(good[0]))


@ON_TWO_COMPANIES
def test_an_order_quickbooks_never_answers_waits_with_the_fix_and_the_others_go_through_once(shop):
    """QuickBooks answers the rest of the batch but never this order's add: it is counted against that
    request alone (the look-ups in between are answered), sent again at once, then after the backoff, and
    after ``corrective_after_sessions`` (3) times in a row it waits for a person; nothing sends it again."""
    shop.company.drop_answers_to(MARKER)
    _queue_orders(shop)
    shop.sync()
    bad = _until_parked(shop, _order_job(shop, BAD).id)

    assert bad.state == "parked"
    assert "without an answer 3 times in a row" in bad.reason and "QuickBooks did not answer" in bad.reason
    assert "crashing or timing out" in bad.reason and "retry the job" in bad.reason
    assert MARKER in bad.last_request_xml and bad.needs_lookup  # the request is kept; a retry looks first
    assert _bad_adds(shop) == 3
    _check_the_others_went_through_once(shop)

    shop.feed("order", make_order(5100))  # new work, so sessions do send something
    shop.sync(sessions=2)
    assert _bad_adds(shop) == 3
    assert _ref_numbers(shop)["5100"] == 1
    shop.assert_every_request_valid()


@ON_TWO_COMPANIES
def test_an_order_quickbooks_crashes_on_is_isolated_then_waits_with_the_fix_and_nothing_is_booked_twice(shop):
    """QuickBooks dies on one order's add (the Web Connector's session ends with no answer to any request of
    its batch, though the sale before it was done). The batch is sent again as it was (a dropped session
    or connection is no one request's fault), then split until the add QuickBooks dies on goes out alone;
    only that one is counted, and parked after three lone losses. The sale whose answer was lost is
    looked up and linked, never added twice."""
    shop.company.crash_on(MARKER)
    _queue_orders(shop)
    reports = shop.sync()
    assert any(r.ended_by == "crash" for r in reports)
    bad = _until_parked(shop, _order_job(shop, BAD).id)

    assert bad.state == "parked"
    assert "without an answer 3 times in a row" in bad.reason
    assert "crashing or timing out" in bad.reason and "retry the job" in bad.reason
    _check_the_others_went_through_once(shop)
    assert "linked" in (_order_job(shop, NUMBERS[0]).reason or "")  # done before the crash: found, not redone
    lone = [e.request for e in shop.company.request_log if e.crashed][-3:]
    assert [r.count("requestID=") for r in lone] == [1, 1, 1]  # the last three crashes: the add alone

    before = _bad_adds(shop)  # nothing sends it again by itself
    shop.feed("order", make_order(5100))
    shop.sync(sessions=2)
    assert _bad_adds(shop) == before
    shop.assert_every_request_valid()


def _edited(order, quantity: int):
    amount = Decimal("9.50") * quantity
    line = dataclasses.replace(order.lines[0], quantity=Decimal(quantity), subtotal=amount, total=amount)
    return dataclasses.replace(order, lines=(line,), subtotal=line.subtotal, total=line.subtotal + Decimal(5),
                               modified_at=order.modified_at + timedelta(hours=1))


STALE_TEXT = 'The provided edit sequence "1701234567" is out-of-date. '


@ON_TWO_COMPANIES
def test_an_edit_quickbooks_keeps_refusing_as_stale_waits_for_a_person_and_a_retry_then_gets_through(shop):
    """Each 3200 (the sale changed in QuickBooks since it was read) is followed by a fresh read and the
    change sent anew, but not for ever: after STALE_LIMIT in a row the job waits with the fix (close the
    record in QuickBooks, then retry). QuickBooks keeps the sale as it was, once; retried, it is changed."""
    order = make_order(5201)
    shop.feed("order", order)
    shop.sync()
    shop.company.inject(code=3200, request_type="SalesReceiptMod", times=STALE_LIMIT, message=STALE_TEXT)
    edit = shop.feed("order", _edited(order, 3))
    shop.sync()

    (job,) = shop.jobs(QueueJob.id == edit.id)
    assert job.state == "parked"
    assert f"refused this change {STALE_LIMIT} times in a row" in job.reason and "3200" in job.reason
    assert "keeps changing this record in QuickBooks" in job.reason and "then retry the job" in job.reason
    assert [a.status_code for a in shop.attempts("SalesReceiptModRq")] == [3200] * STALE_LIMIT
    assert len(shop.attempts("SalesReceiptQueryRq")) >= STALE_LIMIT  # a fresh read after each
    (receipt,) = shop.company.transactions("SalesReceipt")
    assert receipt["TotalAmount"] == "24.00"  # as it was: nothing half-changed

    with shop.runtime.db.transaction() as session:  # the record is closed in QuickBooks; a person retries
        jobs.retry_now(session, session.get(QueueJob, edit.id))
    shop.sync()
    assert shop.jobs(QueueJob.id == edit.id)[0].state == "done"
    assert [a.status_code for a in shop.attempts("SalesReceiptModRq")][STALE_LIMIT:] == [0]
    (receipt,) = shop.company.transactions("SalesReceipt")
    assert receipt["TotalAmount"] == "33.50"
    check_synced_order(shop.company, _edited(order, 3))
    shop.assert_every_request_valid()


def test_a_customer_change_quickbooks_keeps_refusing_as_stale_waits_too(shop):
    """The bound is the step machine's, for every handler: a customer's change the same as a sale's (on the
    default company; the sale's test runs on two)."""
    from qbsync.storefronts.records import Customer

    ann = Customer(storefront_id="42", email="ann@example.com", first_name="Ann", last_name="Lee")
    shop.feed("customer", ann)
    shop.sync()
    shop.company.inject(code=3200, request_type="CustomerMod", times=50, message=STALE_TEXT)
    change = shop.feed("customer", dataclasses.replace(ann, phone="555-0100"))
    shop.sync()

    (job,) = shop.jobs(QueueJob.id == change.id)
    assert job.state == "parked" and "keeps changing this record in QuickBooks" in job.reason
    assert [a.status_code for a in shop.attempts("CustomerModRq")] == [3200] * STALE_LIMIT
    assert [c["FullName"] for c in shop.company.customers()] == ["Lee, Ann"]
    assert shop.company.find("Customer", "Lee, Ann").get("Phone") != "555-0100"


@ON_TWO_COMPANIES
def test_at_the_defaults_busy_answers_do_not_count_against_an_answer_that_could_not_be_read(shop):
    """Busy answers are governed by ``busy_retries`` alone: an add answered busy twice, then with an answer
    that could not be read (QuickBooks did it), is not parked at once; it is looked up and linked, once.
    The default settings and waits (each wait passed by moving the job's next try)."""
    shop.company.inject(code=3170, request_type="SalesReceiptAdd", times=2)
    order_job = shop.feed("order", make_order(5301, note=MARKER))
    shop.sync()
    _after_the_wait(shop, order_job.id)  # the second busy answer
    assert [a.status_code for a in shop.attempts("SalesReceiptAddRq")] == [3170, 3170]
    shop.company.garble_answers_to(MARKER)  # the third add is done, but its answer comes back cut off
    _after_the_wait(shop, order_job.id)

    (job,) = shop.jobs(QueueJob.id == order_job.id)
    assert job.state != "parked", job.reason
    assert len(shop.attempts("SalesReceiptAddRq")) == 3
    _after_the_wait(shop, order_job.id)  # looked up, found, linked
    (job,) = shop.jobs(QueueJob.id == order_job.id)
    assert job.state == "done" and "linked" in job.reason
    assert _ref_numbers(shop) == Counter({"5301": 1})
    assert len(shop.attempts("SalesReceiptAddRq")) == 3
    check_synced_order(shop.company, make_order(5301, note=MARKER))
    shop.assert_every_request_valid()
