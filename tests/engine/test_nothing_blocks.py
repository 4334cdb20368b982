"""Nothing blocks the line: a bad record is parked with QuickBooks' words while the rest go through;
locks are retried; a stuck job gets a corrective step, then waits for a person; updates coalesce."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from lxml import etree

from qbsync.storage.models import QueueJob
from qbsync.storefronts.records import Customer
from tests.accounting import check_synced_order
from tests.engine.conftest import make_order

# Retries and isolation touch no stock and no tax: the default company and one with neither (service). The
# 100-order test and the customer-only tests stay on the default company (slow / no order in the books).
ON_TWO_COMPANIES = pytest.mark.parametrize("profile", ["retail", "service"])

ANN = Customer(storefront_id="42", email="ann@example.com", first_name="Ann", last_name="Lee")
CLOSED = (
    "There was an error when saving a SalesReceipt.  QuickBooks error message: "
    "The transaction date is in a closed accounting period."
)


@pytest.mark.parametrize("profile", ["retail", "service"])
def test_one_order_quickbooks_refuses_does_not_stop_the_other_ninety_nine(shop):
    shop.configure(retry_base_seconds=0)
    with shop.runtime.db.transaction() as session:
        from qbsync.queue.intake import record_changed_many
        from qbsync.storage.models import Connection

        record_changed_many(
            session,
            session.get(Connection, shop.connection_id),
            "order",
            [make_order(n) for n in range(3001, 3101)],
        )
    shop.company.inject(code=3020, request_type="SalesReceiptAdd", times=1, message=CLOSED)
    shop.sync()

    assert len(shop.company.transactions("SalesReceipt")) == 99
    (parked,) = shop.jobs(QueueJob.state == "parked")
    assert parked.kind == "order" and CLOSED in parked.reason and "3020" in parked.reason
    sent = etree.fromstring(parked.last_request_xml.encode())
    assert sent.tag == "SalesReceiptAddRq"
    assert sent.findtext("SalesReceiptAdd/RefNumber") == parked.record_id
    assert any(parked.last_request_xml.strip() in entry.request for entry in shop.company.request_log)
    assert len(shop.jobs(QueueJob.kind == "order", QueueJob.state == "done")) == 99
    check_synced_order(shop.company, make_order(3100 if parked.record_id != "3100" else 3099))
    shop.assert_every_request_valid()


@ON_TWO_COMPANIES
def test_a_locked_record_is_retried_until_it_gets_through(shop):
    shop.configure(retry_base_seconds=0)
    shop.company.inject(code=3175, request_type="CustomerAdd", times=2)
    shop.feed("order", make_order(3201, customer=ANN))
    shop.sync()

    assert [a.status_code for a in shop.attempts("CustomerAddRq")] == [3175, 3175, 0]
    assert [c["FullName"] for c in shop.company.customers()] == ["Lee, Ann"]
    assert len(shop.company.transactions("SalesReceipt")) == 1
    check_synced_order(shop.company, make_order(3201, customer=ANN), customer="Lee, Ann")
    shop.assert_every_request_valid()


def _synced_customer(shop) -> None:
    shop.feed("customer", ANN)
    shop.sync()


@pytest.mark.parametrize("profile", ["retail", "service"])
def test_a_change_that_keeps_failing_gets_a_fresh_read_after_the_configured_sessions(shop):
    shop.configure(retry_base_seconds=0, corrective_after_sessions=2)
    _synced_customer(shop)
    shop.company.inject(code=3170, request_type="CustomerMod", times=2)
    shop.feed("customer", dataclasses.replace(ANN, phone="555-0100"))
    shop.sync()

    assert [a.status_code for a in shop.attempts("CustomerModRq")] == [3170, 3170, 0]
    mod_exchanges = [a.exchange_id for a in shop.attempts("CustomerModRq")]
    fresh_reads = [
        a.exchange_id
        for a in shop.attempts("CustomerQueryRq")
        if mod_exchanges[1] < a.exchange_id < mod_exchanges[2]
    ]
    assert fresh_reads, "the corrective step re-reads the customer before sending the change again"
    assert shop.company.find("Customer", "Lee, Ann")["Phone"] == "555-0100"
    shop.assert_every_request_valid()


@pytest.mark.parametrize("profile", ["retail", "service"])
def test_a_change_still_busy_after_its_corrective_step_waits_for_a_person_after_the_busy_retries(shop):
    """Busy sessions bring the corrective step (a fresh read after ``corrective_after_sessions``), but only
    ``busy_retries`` parks a busy job: here after 1 + 3 tries, with the fix named, and nothing sent after."""
    shop.configure(retry_base_seconds=0, corrective_after_sessions=1, busy_retries=3)
    _synced_customer(shop)
    shop.company.inject(code=3170, request_type="CustomerMod", times=50)
    customer_job = shop.feed("customer", dataclasses.replace(ANN, phone="555-0100"))
    shop.sync()

    with shop.runtime.db.transaction() as session:
        job = session.get(QueueJob, customer_job.id)
        assert job.state == "parked"
        assert "still busy after 4 tries" in job.reason and "3170" in job.reason
        assert "close the record or window open in QuickBooks" in job.reason and "retry the job" in job.reason
    mod_exchanges = [a.exchange_id for a in shop.attempts("CustomerModRq")]
    assert len(mod_exchanges) == 4
    first, second = mod_exchanges[:2]
    fresh_reads = [a for a in shop.attempts("CustomerQueryRq") if first < a.exchange_id < second]
    assert fresh_reads, "the corrective step re-reads the customer after the first busy session"
    assert shop.company.find("Customer", "Lee, Ann").get("Phone") != "555-0100"
    shop.assert_every_request_valid()


@ON_TWO_COMPANIES
def test_a_record_left_open_in_quickbooks_parks_the_job_after_the_busy_retries_with_the_fix(shop):
    """A busy answer (3180 "modified by another user": a record or window open in QuickBooks) is retried
    ``busy_retries`` times, then the job waits for a person with the fix; "not processed" (3231, another
    request failed) is no busy answer and does not count. Nothing is lost: retried, the sale goes in."""
    from qbsync.queue import jobs

    shop.configure(retry_base_seconds=0, busy_retries=2)
    shop.company.inject(code=3231, request_type="SalesReceiptAdd", times=3)
    shop.company.inject(code=3180, request_type="SalesReceiptAdd", times=3)
    order_job = shop.feed("order", make_order(3211))
    shop.sync()

    assert [a.status_code for a in shop.attempts("SalesReceiptAddRq")] == [3231] * 3 + [3180] * 3
    (job,) = shop.jobs(QueueJob.id == order_job.id)
    assert job.state == "parked"
    assert "still busy after 3 tries" in job.reason
    assert "close the record or window open in QuickBooks" in job.reason and "retry the job" in job.reason
    assert not shop.company.transactions("SalesReceipt")

    with shop.runtime.db.transaction() as session:  # the window is closed; a person retries the job
        jobs.retry_now(session, session.get(QueueJob, order_job.id))
    shop.company.inject(code=3180, request_type="SalesReceiptAdd", times=2)  # busy again: counted afresh
    shop.sync()
    assert [a.status_code for a in shop.attempts("SalesReceiptAddRq")][6:] == [3180, 3180, 0]
    assert shop.jobs(QueueJob.id == order_job.id)[0].state == "done"
    check_synced_order(shop.company, make_order(3211))
    shop.assert_every_request_valid()


@ON_TWO_COMPANIES
def test_busy_answers_are_counted_per_request_not_across_the_look_up_and_the_add(shop):
    """``busy_retries`` promises how many times a request QuickBooks answered busy is sent again: a look-up
    and the add after it are two requests, so the look-up's busy answers do not count against the add."""
    shop.configure(retry_base_seconds=0, busy_retries=3, corrective_after_sessions=0)
    shop.company.inject(code=3175, request_type="SalesReceiptQuery", times=2)
    shop.company.inject(code=3175, request_type="SalesReceiptAdd", times=2)
    order_job = shop.feed("order", make_order(3212))
    shop.sync()

    assert [a.status_code for a in shop.attempts("SalesReceiptQueryRq")] == [3175, 3175, 1]  # 1: none found
    assert [a.status_code for a in shop.attempts("SalesReceiptAddRq")] == [3175, 3175, 0]
    assert shop.jobs(QueueJob.id == order_job.id)[0].state == "done"
    check_synced_order(shop.company, make_order(3212))
    shop.assert_every_request_valid()


@ON_TWO_COMPANIES
def test_with_the_default_settings_an_order_answered_busy_seven_times_gets_through_on_the_eighth(shop):
    """Busy answers are governed by ``busy_retries`` alone (8 by default): the failed sessions they make
    still bring the corrective step (a fresh look-up, once, after ``corrective_after_sessions``), but never
    park the job before its busy retries are used up. Only the waits are shortened; both limits keep their
    defaults. Nothing is lost: one sale, to the cent."""
    shop.configure(retry_base_seconds=0)
    shop.company.inject(code=3170, request_type="SalesReceiptAdd", times=7)
    order_job = shop.feed("order", make_order(3213))
    shop.sync()

    assert [a.status_code for a in shop.attempts("SalesReceiptAddRq")] == [3170] * 7 + [0]
    # The look-up before the add, then the corrective step's fresh one after three busy sessions.
    assert [a.status_code for a in shop.attempts("SalesReceiptQueryRq")] == [1, 1]
    (job,) = shop.jobs(QueueJob.id == order_job.id)
    assert job.state == "done"
    assert not shop.jobs(QueueJob.state == "parked")
    (receipt,) = shop.company.transactions("SalesReceipt")
    assert receipt["RefNumber"] == "3213"
    check_synced_order(shop.company, make_order(3213))
    shop.assert_every_request_valid()


@ON_TWO_COMPANIES
def test_ten_updates_before_a_session_become_one_job_with_the_newest_data(shop):
    order = make_order(3301, customer=ANN)
    for n in range(10):
        shop.feed(
            "order",
            dataclasses.replace(
                order, note=f"version {n}", modified_at=order.modified_at + timedelta(minutes=n)
            ),
        )
    (job,) = shop.jobs(QueueJob.kind == "order")
    assert job.payload["record"]["note"] == "version 9"
    shop.sync()

    (receipt,) = shop.company.transactions("SalesReceipt")
    assert receipt["Memo"].endswith("version 9")
    assert len(shop.requests("SalesReceiptAddRq")) == 1
    check_synced_order(shop.company, order)
    shop.assert_every_request_valid()
