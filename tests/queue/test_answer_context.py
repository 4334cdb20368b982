"""The context an answer is applied in: the round trip's, with the answered request's id."""

from __future__ import annotations

import dataclasses

from qbsync.queue import exchange
from qbsync.queue.handlers import Context


def test_an_answers_context_is_the_round_trips_with_its_request_id():
    # Every field a value of its own, so one left behind (or a field added to Context and not copied)
    # shows: the copy must be what dataclasses.replace gives.
    base = Context(**{field.name: object() for field in dataclasses.fields(Context)})
    copy = exchange._context_for(base, "7.2")

    assert copy == dataclasses.replace(base, request_id="7.2")
    assert copy.cache is base.cache  # one cache for the round trip, not a copy of it
