"""Split to isolate, the decisions alone: how big the next batch is, who goes in it, what a failure means."""

from __future__ import annotations

import math

import pytest

from qbsync.queue.handlers import Again, Park, Retry
from qbsync.queue.isolation import (
    ISOLATED,
    PARKED,
    RESENT,
    SPLIT,
    Group,
    outcome_of,
    probe,
    probe_size,
    unanswered,
    verdict,
)

REASON = ("QuickBooks reported 0x80040400: "
          "QuickBooks found an error when parsing the provided XML text stream.")


@pytest.mark.parametrize(("failed", "next_size"), [(1, 1), (2, 1), (3, 2), (7, 4), (200, 100)])
def test_a_failed_batch_goes_out_again_in_halves_rounded_up(failed, next_size):
    assert probe_size(failed) == next_size


def test_jobs_of_no_failed_batch_are_not_probed():
    assert probe([1, 2, 3], {}) == []


def test_the_probe_takes_half_of_the_first_suspects_batch_and_nothing_else():
    old, newer = Group(exchange_id=10, size=4), Group(exchange_id=11, size=2)
    groups = {2: old, 3: newer, 5: old, 6: old, 7: old}
    # 1 and 4 were in no failed batch; 3 was in another one: none of them joins the probe of 2's batch.
    assert probe([1, 2, 3, 4, 5, 6, 7], groups) == [2, 5]
    assert probe([1, 3, 2, 5], groups) == [3]


def test_the_rest_of_a_half_that_got_through_is_probed_whole():
    # Batch 10 (4 jobs) failed; its first half got through and is done, the other half is what is left.
    assert probe([6, 7], {6: Group(10, 4), 7: Group(10, 4)}) == [6, 7]


def test_with_others_in_the_failed_batch_a_job_is_sent_again_at_once_without_a_failure_counted():
    result = verdict(8, REASON, parse_error=True, failed_alone=0, give_up_after=3)
    assert isinstance(result, Again) and REASON in result.reason
    assert outcome_of(result) == SPLIT


def test_a_request_quickbooks_cannot_parse_on_its_own_is_parked_with_its_words():
    result = verdict(1, REASON, parse_error=True, failed_alone=0, give_up_after=3)
    assert isinstance(result, Park)
    assert REASON in result.reason and "qbXML sent is kept" in result.reason
    assert outcome_of(result) == PARKED


def test_an_unreadable_answer_to_one_request_is_retried_alone_with_backoff_then_parked():
    reason = "QuickBooks' answer could not be read: the qbXML response is not well-formed XML"
    first = verdict(1, reason, parse_error=False, failed_alone=0, give_up_after=3)
    assert isinstance(first, Retry) and first.counts_as_failure and first.delay is None  # backoff
    assert outcome_of(first) == ISOLATED
    last = verdict(1, reason, parse_error=False, failed_alone=2, give_up_after=3)
    assert isinstance(last, Park) and "3 sessions" in last.reason and reason in last.reason
    never = verdict(1, reason, parse_error=False, failed_alone=50, give_up_after=0)
    assert isinstance(never, Retry)


@pytest.mark.parametrize(("size", "bad"), [(1, {0}), (2, {1}), (20, {6}), (200, {0}), (200, {199}),
                                           (200, {17, 150}), (37, {3, 4, 5})])
def test_splitting_finds_every_bad_job_and_lets_every_good_one_through(size, bad):
    """The decisions played out: each round trip sends the probe (or the whole queue while nothing failed);
    a batch holding a bad job fails as a whole."""
    pending = list(range(size))
    groups: dict[int, Group] = {}
    parked: list[int] = []
    done: list[int] = []
    failures = 0
    for exchange_id in range(1, 10 * size + 2):
        if not pending:
            break
        batch = probe(pending, groups) or [j for j in pending if j not in groups]
        if not bad.intersection(batch):
            done += batch
            pending = [j for j in pending if j not in batch]
            continue
        failures += 1
        for job in batch:
            result = verdict(len(batch), REASON, parse_error=True, failed_alone=0, give_up_after=3)
            if isinstance(result, Park):
                parked.append(job)
                pending.remove(job)
            else:
                groups[job] = Group(exchange_id, len(batch))
    assert not pending
    assert sorted(parked) == sorted(bad)
    assert sorted(done) == sorted(set(range(size)) - bad)
    assert failures <= len(bad) * (math.ceil(math.log2(size)) + 1)


LOST = "the Web Connector session ended (stale)"


def test_a_batch_left_without_an_answer_is_sent_again_as_it_was_then_split_and_never_parked():
    first, outcome = unanswered(6, LOST, lost_before=0, alone_before=0, give_up_after=3)
    assert isinstance(first, Retry) and not first.counts_as_failure and outcome == RESENT
    for lost_before in (1, 5, 50):  # a network that keeps dropping whole batches parks none of them
        again, outcome = unanswered(6, LOST, lost_before=lost_before, alone_before=0, give_up_after=3)
        assert isinstance(again, Again) and outcome == SPLIT


def test_a_request_left_without_an_answer_alone_is_retried_at_once_then_later_then_parked_with_the_fix():
    first, outcome = unanswered(1, LOST, lost_before=3, alone_before=0, give_up_after=3)
    assert isinstance(first, Retry) and not first.counts_as_failure and outcome == ISOLATED
    second, outcome = unanswered(1, LOST, lost_before=4, alone_before=1, give_up_after=3)
    assert isinstance(second, Retry) and second.counts_as_failure and outcome == ISOLATED
    last, outcome = unanswered(1, LOST, lost_before=5, alone_before=2, give_up_after=3)
    assert isinstance(last, Park) and outcome == PARKED
    assert "without an answer 3 times in a row" in last.reason and LOST in last.reason
    assert "crashing or timing out" in last.reason and "retry the job" in last.reason
    never, _ = unanswered(1, LOST, lost_before=50, alone_before=50, give_up_after=0)
    assert isinstance(never, Retry)


@pytest.mark.parametrize(("size", "bad"), [(2, 1), (20, 6), (200, 0), (200, 199)])
def test_a_request_quickbooks_dies_on_ends_up_parked_alone_and_every_other_one_gets_through(size, bad):
    """The decisions played out: a batch holding the bad job gets no answer at all (QuickBooks dies on
    it); any other batch is answered. Only the bad job is parked; the others all get through."""
    pending = list(range(size))
    groups: dict[int, Group] = {}
    runs: dict[int, tuple[int, int]] = {}  # job -> (lost, alone) in a row
    parked: list[int] = []
    done: list[int] = []
    for exchange_id in range(1, 10 * size + 2):
        if not pending:
            break
        batch = probe(pending, groups) or [j for j in pending if j not in groups]
        if bad not in batch:
            done += batch
            pending = [j for j in pending if j not in batch]
            continue
        for job in batch:
            lost, alone = runs.get(job, (0, 0))
            result, outcome = unanswered(len(batch), LOST, lost_before=lost, alone_before=alone,
                                         give_up_after=3)
            runs[job] = (lost + 1, alone + (len(batch) == 1))
            if isinstance(result, Park):
                parked.append(job)
                pending.remove(job)
            elif outcome in (SPLIT, ISOLATED):
                groups[job] = Group(exchange_id, len(batch))
    assert not pending
    assert parked == [bad]
    assert sorted(done) == sorted(set(range(size)) - {bad})
