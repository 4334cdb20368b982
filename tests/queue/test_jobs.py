"""The durable queue: coalescing, dependencies, and the actions a person takes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from qbsync.queue import jobs
from qbsync.storage.models import QueueJob, utcnow


@pytest.fixture
def conn_id(make_connection):
    return make_connection().id


def test_updates_to_the_same_record_coalesce_into_one_job_with_the_latest_data(runtime, conn_id):
    with runtime.db.transaction() as s:
        for n in range(10):
            jobs.enqueue(s, conn_id, "order", {"version": n}, record_type="order", record_id="727",
                         coalesce_key="order:727")
    with runtime.db.transaction() as s:
        rows = s.scalars(select(QueueJob)).all()
        assert len(rows) == 1
        assert rows[0].payload == {"version": 9}
        assert rows[0].state == "pending"


def test_an_update_while_the_first_is_in_flight_waits_for_it(runtime, conn_id):
    with runtime.db.transaction() as s:
        first = jobs.enqueue(s, conn_id, "order", {"v": 1}, coalesce_key="order:1")
        first.state = "in_flight"
    with runtime.db.transaction() as s:
        second = jobs.enqueue(s, conn_id, "order", {"v": 2}, coalesce_key="order:1")
        assert second.id != first.id
        assert second.state == "waiting"
        assert [d.id for d in jobs.dependencies(s, second)] == [first.id]
    with runtime.db.transaction() as s:
        first = s.get(QueueJob, first.id)
        jobs.mark_done(s, first)
    with runtime.db.transaction() as s:
        assert s.get(QueueJob, second.id).state == "pending"


def test_an_order_deferred_twice_in_one_round_trip_waits_once_and_wakes_when_its_customer_is_done(
        runtime, conn_id):
    """A round trip links many waiting jobs without a flush each (one flush for all of them): the same link
    made twice before it is written is stored once, and one made after it was written is not added again."""
    with runtime.db.transaction() as s:
        customer = jobs.enqueue(s, conn_id, "customer", {}, label="customer Ann")
        order = jobs.enqueue(s, conn_id, "order", {}, label="order 1")
        s.flush()
        jobs.add_dependency(s, order, customer)
        jobs.add_dependency(s, order, customer)  # before any flush
        s.flush()
        jobs.add_dependency(s, order, customer)  # after it was written
        assert order.state == "waiting"
    with runtime.db.transaction() as s:
        order = s.get(QueueJob, order.id)
        assert [d.id for d in jobs.dependencies(s, order)] == [customer.id]
        jobs.mark_done(s, s.get(QueueJob, customer.id))
    with runtime.db.transaction() as s:
        assert s.get(QueueJob, order.id).state == "pending"


def test_a_batch_of_finished_jobs_wakes_only_the_dependents_with_nothing_else_to_wait_for(runtime, conn_id):
    """wake_dependents_of in one query: a job waiting for two wakes only when both are done (whichever
    batch finishes the second), a job waiting for one of the batch wakes once however many it names."""
    with runtime.db.transaction() as s:
        ann = jobs.enqueue(s, conn_id, "customer", {}, label="customer Ann")
        bo = jobs.enqueue(s, conn_id, "customer", {}, label="customer Bo")
        both = jobs.enqueue(s, conn_id, "order", {}, label="order 1", depends_on=[ann, bo])
        only_ann = jobs.enqueue(s, conn_id, "order", {}, label="order 2", depends_on=[ann])
        s.flush()
        ann.state = bo.state = "in_flight"
    with runtime.db.transaction() as s:
        ann = s.get(QueueJob, ann.id)
        jobs.mark_done(s, ann, wake=False)
        assert jobs.wake_dependents_of(s, [ann, ann]) == 1
        assert s.get(QueueJob, only_ann.id).state == "pending"  # a loaded job sees its new state
        assert s.get(QueueJob, both.id).state == "waiting"
    with runtime.db.transaction() as s:
        bo = s.get(QueueJob, bo.id)
        jobs.mark_done(s, bo, wake=False)
        assert jobs.wake_dependents_of(s, [bo]) == 1
    with runtime.db.transaction() as s:
        assert s.get(QueueJob, both.id).state == "pending"
        assert s.get(QueueJob, both.id).reason is None


def test_parked_dependency_blocks_its_dependents_with_the_reason(runtime, conn_id):
    with runtime.db.transaction() as s:
        customer = jobs.enqueue(s, conn_id, "customer", {}, label="customer Ann")
        order = jobs.enqueue(s, conn_id, "order", {}, label="order 1", depends_on=[customer])
        assert order.state == "waiting"
        jobs.park(s, customer, "QuickBooks answered 3000: bad address")
    with runtime.db.transaction() as s:
        order = s.get(QueueJob, order.id)
        assert order.state == "waiting"
        assert "bad address" in order.reason and f"#{customer.id}" in order.reason
        jobs.retry_now(s, s.get(QueueJob, customer.id))
        jobs.mark_done(s, s.get(QueueJob, customer.id))
    with runtime.db.transaction() as s:
        assert s.get(QueueJob, order.id).state == "pending"


def test_pick_order_respects_priority_and_retry_time(runtime, conn_id):
    now = utcnow()
    with runtime.db.transaction() as s:
        late = jobs.enqueue(s, conn_id, "order", {}, priority=50)
        early = jobs.enqueue(s, conn_id, "customer", {}, priority=10)
        later = jobs.enqueue(s, conn_id, "order", {}, priority=50)
        jobs.retry_later(s, later, "locked", timedelta(minutes=5), now)
    with runtime.db.transaction() as s:
        ready = jobs.pending_ready(s, conn_id, now, 10)
        assert [j.id for j in ready] == [early.id, late.id]
        assert jobs.has_ready(s, conn_id, now)
        assert [j.id for j in jobs.pending_ready(s, conn_id, now + timedelta(minutes=6), 10)] == [
            early.id, late.id, later.id]


def test_hold_release_remove_and_their_refusals(runtime, conn_id):
    with runtime.db.transaction() as s:
        job = jobs.enqueue(s, conn_id, "order", {})
        jobs.hold(s, job)
        assert job.state == "held"
        assert not jobs.has_ready(s, conn_id, utcnow())
        jobs.release(s, job)
        assert job.state == "pending"
        job.state = "in_flight"
        with pytest.raises(jobs.JobStateError):
            jobs.remove(s, job)
        with pytest.raises(jobs.JobStateError):
            jobs.retry_now(s, job)
        job.state = "parked"
        jobs.remove(s, job)
        assert job.state == "cancelled"


def test_return_in_flight_marks_jobs_for_lookup(runtime, conn_id):
    from qbsync.storage.models import QbwcSession

    now = utcnow()
    with runtime.db.transaction() as s:
        qs = QbwcSession(connection_id=conn_id, ticket="t1", expires_at=now + timedelta(hours=1))
        s.add(qs)
        s.flush()
        job = jobs.enqueue(s, conn_id, "order", {})
        job.state, job.session_id = "in_flight", qs.id
        s.flush()
        assert jobs.return_in_flight(s, qs.id, "session went stale", now) == 1
    with runtime.db.transaction() as s:
        job = s.get(QueueJob, job.id)
        assert (job.state, job.needs_lookup, job.session_id) == ("pending", True, None)
        assert job.reason == "session went stale"

    # Done at last, it no longer needs its look-up nor gives a reason (mark_done clears both, and only
    # writes what changes: a job done without either keeps its row as it was, but for the finish).
    with runtime.db.transaction() as s:
        job = s.get(QueueJob, job.id)
        jobs.mark_done(s, job, now)
        other = jobs.enqueue(s, conn_id, "order", {"n": 2})
        s.flush()
        jobs.mark_done(s, other, now)
    with runtime.db.transaction() as s:
        for done in (s.get(QueueJob, job.id), s.get(QueueJob, other.id)):
            assert (done.state, done.needs_lookup, done.reason, done.session_id, done.done_at) == (
                "done", False, None, None, now)

def test_backoff_doubles_and_caps():
    assert jobs.backoff(1, 60, 3600) == timedelta(seconds=60)
    assert jobs.backoff(3, 60, 3600) == timedelta(seconds=240)
    assert jobs.backoff(20, 60, 3600) == timedelta(seconds=3600)


def test_progress_notes_change_without_writing_the_order_again_and_old_notes_still_read(runtime, conn_id):
    from sqlalchemy import event

    from qbsync.queue.handlers import progress, set_progress

    # Queued before the notes had a column of their own (migration 0009): they are in the payload.
    order = {"record": {"id": "727", "lines": [{"sku": "MUG-RED", "quantity": "2"}] * 50}}
    with runtime.db.transaction() as s:
        job_id = jobs.enqueue(s, conn_id, "order", {**order, "progress": {"next": "add"}},
                              coalesce_key="order:727").id
    with runtime.db.transaction() as s:
        job = s.get(QueueJob, job_id)
        assert progress(job) == {"next": "add"}
        set_progress(job, next="mod", hash="abc")  # moved out of the payload, once
    written: list[str] = []

    def keep(conn, cursor, statement, parameters, context, many):  # noqa: ANN001
        written.append(statement)

    event.listen(runtime.db.engine, "before_cursor_execute", keep)
    try:
        with runtime.db.transaction() as s:
            job = s.get(QueueJob, job_id)
            assert progress(job) == {"next": "mod", "hash": "abc"}
            assert job.payload == order
            set_progress(job, next="void")
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", keep)
    updates = [w for w in written if w.startswith("UPDATE queue_jobs")]
    assert len(updates) == 1 and "payload" not in updates[0]
    with runtime.db.transaction() as s:
        assert progress(s.get(QueueJob, job_id)) == {"next": "void", "hash": "abc"}
        jobs.enqueue(s, conn_id, "order", {"record": {"id": "727"}}, coalesce_key="order:727")
    with runtime.db.transaction() as s:
        assert progress(s.get(QueueJob, job_id)) == {}  # new data starts the job over


def test_a_round_trips_links_are_checked_in_one_read_and_none_is_stored_twice(runtime, conn_id):
    """The candidates of a round trip announced (expect_dependencies): the first link made reads every
    candidate's stored links at once, then links are added without a look-up each; a link already stored
    is not added again, and one deleted since it was read is added anew."""
    from sqlalchemy import event

    from qbsync.storage.models import JobDependency

    with runtime.db.transaction() as s:
        customer = jobs.enqueue(s, conn_id, "customer", {}, label="customer Ann")
        item = jobs.enqueue(s, conn_id, "item", {}, label="item mug")
        orders = [jobs.enqueue(s, conn_id, "order", {}, label=f"order {n}") for n in range(3)]
        s.flush()
        jobs.add_dependency(s, orders[0], customer)  # stored before the round trip
    reads: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT") and "job_dependencies" in statement:
            reads.append(statement)

    event.listen(runtime.db.engine, "before_cursor_execute", count)
    try:
        with runtime.db.transaction() as s:
            found = [s.get(QueueJob, o.id) for o in orders]
            customer_job, item_job = s.get(QueueJob, customer.id), s.get(QueueJob, item.id)
            jobs.expect_dependencies(s, [o.id for o in found])
            for order in found:
                jobs.add_dependency(s, order, customer_job)
                jobs.add_dependency(s, order, item_job)
            # One read for the three orders' six links, and one for the link stored already (still there?).
            assert len(reads) == 2
            jobs.detach_dependents(s, item_job)  # deletes the item's links, flushed or not
            jobs.add_dependency(s, found[1], item_job)  # read as stored? no: not stored, added again
            jobs.detach_dependents(s, customer_job)
            jobs.add_dependency(s, found[0], customer_job)  # stored when read, deleted since: added again
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", count)
    with runtime.db.transaction() as s:
        links = sorted(s.execute(select(JobDependency.job_id, JobDependency.depends_on_id)).all())
        assert links == sorted([(orders[0].id, customer.id), (orders[1].id, item.id)])


def test_dependents_read_lightly_are_the_dependents_with_their_notes_and_whole_ones_in_the_order_asked(
        runtime, conn_id):
    """The proxy customer's job reads the orders waiting for it without their payloads: the same jobs,
    kinds, states, times and notes as reading them whole (notes kept in the payload before migration
    0009 included), and then only the ones it needs, whole."""
    from qbsync.queue.handlers import progress, set_progress

    with runtime.db.transaction() as s:
        customer = jobs.enqueue(s, conn_id, "customer", {"record": {"id": "c"}}, coalesce_key="customer:c")
        waiting = [
            jobs.enqueue(s, conn_id, "order", {"record": {"id": "1"}}, coalesce_key="order:1"),
            jobs.enqueue(s, conn_id, "order", {"record": {"id": "2"}, "progress": {"customer": {"key": "k"}}},
                         coalesce_key="order:2"),  # notes in the payload (before 0009)
            jobs.enqueue(s, conn_id, "order", {"record": {"id": "3"}}, coalesce_key="order:3"),
            jobs.enqueue(s, conn_id, "inventory_push", {"sku": "x"}, coalesce_key="push:x"),
        ]
        set_progress(waiting[2], next="add")
        waiting[3].state = "parked"
        for job in waiting:
            jobs.add_dependency(s, job, customer)
        jobs.enqueue(s, conn_id, "order", {"record": {"id": "4"}}, coalesce_key="order:4")  # waits for none
        customer_id, ids = customer.id, [j.id for j in waiting]
    with runtime.db.transaction() as s:
        customer = s.get(QueueJob, customer_id)
        whole = jobs.dependents(s, customer)
        light = jobs.dependents_read_lightly(s, customer)
        assert [(d.id, d.kind, d.state, d.created_at, d.notes or {}) for d in light] == [
            (j.id, j.kind, j.state, j.created_at, progress(j)) for j in whole]
        assert [d.id for d in light] == ids
        assert light[1].notes == {"customer": {"key": "k"}} and light[2].notes == {"next": "add"}
        assert [j.id for j in jobs.jobs_by_id(s, [ids[2], 999_999, ids[0]])] == [ids[2], ids[0]]
