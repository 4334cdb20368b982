"""A queue job's payload is decoded once per text and shared by every load, so it is read-only: a change in
place fails loudly, a new payload assigned is written, and what is stored and sent does not change."""

from __future__ import annotations

import copy
import json

import pytest
from sqlalchemy import select, text

from qbsync.queue import jobs
from qbsync.storage import frozen_json
from qbsync.storage.models import QueueJob

ORDER = {"record": {"number": "1001", "line_items": [{"sku": "MUG-RED", "quantity": 2, "tags": [["a"], []]}],
                    "total": "21.00", "note": None},
         "event": "created"}


@pytest.fixture
def conn_id(make_connection):
    return make_connection().id


def _queue(runtime, conn_id, payload=ORDER, key="order:1001") -> int:
    with runtime.db.transaction() as s:
        job = jobs.enqueue(s, conn_id, "order", copy.deepcopy(payload), coalesce_key=key)
        s.flush()
        return job.id


def _payload(runtime, job_id):
    with runtime.db.transaction() as s:
        return s.get(QueueJob, job_id).payload


def test_a_loaded_payload_refuses_every_change_in_place_with_the_fix_in_the_message(runtime, conn_id):
    payload = _payload(runtime, _queue(runtime, conn_id))
    line = payload["record"]["line_items"][0]
    changes = [
        lambda: payload.__setitem__("event", "updated"),
        lambda: payload.pop("event"),
        lambda: payload.update(event="updated"),
        lambda: payload.setdefault("new", 1),
        lambda: payload["record"].__delitem__("note"),
        lambda: payload["record"]["line_items"].append({}),
        lambda: payload["record"]["line_items"].sort(),
        lambda: line.__setitem__("quantity", 3),
        lambda: line["tags"][0].append("b"),  # a list within a list
    ]
    for change in changes:
        with pytest.raises(TypeError, match="cannot be changed in place .*build a new value and assign it"):
            change()
    with pytest.raises(TypeError, match=r"FrozenDict\.__setitem__"):
        payload["record"]["total"] = "0.00"
    assert payload == ORDER  # nothing changed


def test_loads_of_the_same_text_share_one_decoded_value(runtime, conn_id, monkeypatch):
    first = _queue(runtime, conn_id)
    twin = _queue(runtime, conn_id, key="order:twin")  # another job, the same text
    frozen_json.clear_cache()
    decodes = []
    decode = frozen_json._decode
    monkeypatch.setattr(frozen_json, "_decode", lambda raw: decodes.append(raw) or decode(raw))
    loads = [_payload(runtime, first), _payload(runtime, first), _payload(runtime, twin)]
    with runtime.db.transaction() as s:  # a Core read of the column too
        loads.append(s.scalar(select(QueueJob.payload).where(QueueJob.id == first)))
    assert len(decodes) == 1
    assert all(load is loads[0] for load in loads)
    assert loads[0] == ORDER


def test_a_new_payload_assigned_is_stored_and_unchanged_ones_keep_their_text(runtime, conn_id):
    job_id = _queue(runtime, conn_id)
    with runtime.db.transaction() as s:
        stored = s.scalar(text("SELECT CAST(payload AS TEXT) FROM queue_jobs WHERE id = :id"), {"id": job_id})
        job = s.get(QueueJob, job_id)
        job.label = "order 1001"  # written; the payload, unchanged, is not
    with runtime.db.transaction() as s:
        assert s.scalar(text("SELECT CAST(payload AS TEXT) FROM queue_jobs WHERE id = :id"),
                        {"id": job_id}) == stored
        job = s.get(QueueJob, job_id)
        record = job.payload["record"]
        lines = [{**record["line_items"][0], "quantity": 3}]
        job.payload = {**job.payload, "event": "updated", "record": {**record, "line_items": lines}}
    changed = _payload(runtime, job_id)
    assert changed["event"] == "updated"
    assert changed["record"]["line_items"][0]["quantity"] == 3
    assert changed["record"]["total"] == "21.00"
    assert _payload(runtime, job_id) is changed


def test_a_loaded_payload_serializes_and_compares_as_the_plain_json_it_was_read_from(runtime, conn_id):
    payload = _payload(runtime, _queue(runtime, conn_id))
    assert payload == ORDER
    assert json.dumps(payload) == json.dumps(ORDER)
    assert json.dumps(payload, indent=1, sort_keys=True) == json.dumps(ORDER, indent=1, sort_keys=True)
    mine = copy.deepcopy(payload)  # a copy is its owner's to change
    mine["record"]["line_items"][0]["quantity"] = 5
    mine["record"]["line_items"].append({})
    assert type(mine) is dict and payload == ORDER
    top = copy.copy(payload)
    top["event"] = "updated"
    assert type(top) is dict and top["record"] is payload["record"] and payload == ORDER
    shallow = {**payload, "event": "updated"}
    assert type(shallow) is dict and shallow["record"] is payload["record"]
    assert isinstance(payload, dict) and isinstance(payload["record"]["line_items"], list)
