"""How pages show values: times, ages, numbers, JSON. Registered as Jinja filters."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import Flask

from qbsync.storage.models import utcnow


def when(value: datetime | None) -> str:
    """A stored (naive UTC) time as ``2024-05-01 13:45 UTC``; a dash when there is none."""
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M UTC")


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in the largest whole unit: 'just now', '5 minutes ago', '3 hours ago', '2 days ago'."""
    if value is None:
        return "never"
    seconds = int(((now or utcnow()) - value).total_seconds())
    if seconds < 0:
        return "in the future"
    if seconds < 60:
        return "just now"
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"  # unreachable; keeps type checkers content


def number(value: int | None) -> str:
    """A count with thousands separators."""
    return "—" if value is None else f"{value:,}"


def pretty_json(value: Any) -> str:
    """Indented JSON with keys sorted, for payloads."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def install(app: Flask) -> None:
    """Register the filters above."""
    app.add_template_filter(when)
    app.add_template_filter(ago)
    app.add_template_filter(number)
    app.add_template_filter(pretty_json)
