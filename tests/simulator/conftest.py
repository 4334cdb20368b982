"""Fixtures of the simulator tests: a company on a clock the test moves."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from qbsync.simulator import QuickBooksCompany

EASTERN = timezone(timedelta(hours=-5))


class FakeClock:
    """A wall clock that only moves when the test says so."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2024, 3, 1, 9, 0, 0, tzinfo=EASTERN)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def company(clock: FakeClock) -> QuickBooksCompany:
    return QuickBooksCompany(clock=clock, profile="legacy")  # the tests below use its seeded names
