"""The dashboard's small bar chart, laid out on the server (no chart library, no JavaScript)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Bar:
    """One day's bar in SVG user units; ``label`` is the day shown under it."""

    day: date
    count: int
    x: float
    y: float
    width: float
    height: float
    label: str


@dataclass(frozen=True)
class BarChart:
    """Bars plus the drawing size and the tallest count (for the axis note)."""

    bars: list[Bar]
    width: int
    height: int
    plot_height: int
    peak: int

    @property
    def total(self) -> int:
        return sum(b.count for b in self.bars)


def last_days(today: date, days: int) -> list[date]:
    """The ``days`` dates ending with ``today``, oldest first."""
    return [today - timedelta(days=n) for n in range(days - 1, -1, -1)]


def daily_bars(counts: Mapping[date, int], days: list[date], *, width: int = 420, height: int = 120,
               label_room: int = 16, gap: float = 4.0) -> BarChart:
    """Lay out one bar per day in ``days``; a day missing from ``counts`` is a zero-height bar."""
    plot_height = height - label_room
    peak = max((counts.get(d, 0) for d in days), default=0)
    slot = width / max(1, len(days))
    bars = []
    for index, day in enumerate(days):
        count = counts.get(day, 0)
        bar_height = 0.0 if peak == 0 else max(1.0 if count else 0.0, plot_height * count / peak)
        bars.append(Bar(day=day, count=count, x=round(index * slot + gap / 2, 2),
                        y=round(plot_height - bar_height, 2), width=round(slot - gap, 2),
                        height=round(bar_height, 2), label=day.strftime("%d")))
    return BarChart(bars=bars, width=width, height=height, plot_height=plot_height, peak=peak)
