"""The step machine the handlers share: which reaction an answer reaches, in which order (pure, no
database: a transient job and answers as the parser gives them)."""

from __future__ import annotations

from typing import Any

from qbsync.qbxml.parse import Response
from qbsync.qbxml.status import Outcome
from qbsync.queue.handlers import Again, Done, Park, progress
from qbsync.queue.handlers.steps import Step, StepHandler, go
from qbsync.storage.models import QueueJob


def _answer(code: int, records: int = 0, message: str = "") -> Response:
    severity = "Warn" if 500 <= code < 1000 else "Error" if code >= 1000 else "Info"
    return Response(type="CustomerQueryRs", request_id="1", status_code=code, severity=severity,
                    message=message, records=[{"ListID": f"L{i}"} for i in range(records)],
                    record_types=["CustomerRet"] * records)


class Recorder(StepHandler):
    """A handler that notes which reactions ran."""

    kind = "test"
    UNKNOWN = "a test job"

    def __init__(self) -> None:
        self.ran: list[str] = []

    def _first(self, ctx: Any, job: QueueJob, response: Response) -> None:
        self.ran.append("first")

    def _found(self, ctx: Any, job: QueueJob, response: Response) -> Done | None:
        self.ran.append("found")
        return Done("linked") if response.record else None

    def _empty(self, ctx: Any, job: QueueJob, response: Response) -> Again:
        self.ran.append("empty")
        return Again("adding")

    def _in_use(self, ctx: Any, job: QueueJob, response: Response) -> Park | None:
        self.ran.append("in use")
        return Park("name taken") if "taken" in response.message else None

    STEPS = {
        "lookup": Step(first=_first, found=_found, empty=_empty, otherwise="customer look-up"),
        "add": Step(found=_found, on={Outcome.NAME_IN_USE: _in_use}, otherwise="customer"),
        "mod": Step(on={Outcome.STALE_EDIT_SEQUENCE: go("requery", "reading it again")}),
    }


def _run(step: str, response: Response) -> tuple[Any, list[str], QueueJob]:
    handler = Recorder()
    job = QueueJob(step=step, payload={"progress": {"next": "mod"}})
    return handler.apply(None, job, response), handler.ran, job  # type: ignore[arg-type]


def test_a_found_record_is_linked_and_a_query_without_one_falls_to_empty():
    assert _run("lookup", _answer(0, records=1))[:2] == (Done("linked"), ["first", "found"])
    # Success without a record (a name not found answers 500): "found" passes, "empty" decides.
    assert _run("lookup", _answer(500))[:2] == (Again("adding"), ["first", "found", "empty"])
    assert _run("lookup", _answer(1))[:2] == (Again("adding"), ["first", "empty"])


def test_specific_outcomes_then_the_refusal_in_quickbooks_words():
    assert _run("add", _answer(3100, message="name taken"))[:2] == (Park("name taken"), ["in use"])
    result, ran, _ = _run("add", _answer(3100, message="other"))
    assert ran == ["in use"] and isinstance(result, Park)
    assert result.reason == "QuickBooks refused the customer (3100): other"
    # A query that failed never reaches "empty": only a readable answer means "not there".
    result, ran, _ = _run("lookup", _answer(3000, message="bad id"))
    assert ran == ["first"] and result == Park("QuickBooks refused the customer look-up (3000): bad id")


def test_go_moves_the_job_to_its_next_step_and_an_unknown_step_parks():
    result, _, job = _run("mod", _answer(3200, message="stale"))
    assert result == Again("reading it again") and progress(job)["next"] == "requery"
    result, _, _ = _run("void", _answer(0))
    assert result == Park("qbsync does not know the step 'void' of a test job")
