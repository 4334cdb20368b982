"""Sync settings per connection: every name, its default, and a sentence on what it does.

Only overrides are stored (``Connection.settings``); reading a connection's settings merges them over
the defaults, so a new setting never needs a data migration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One setting's definition."""

    name: str
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    group: str = "General"

    def parse(self, raw: Any) -> Any:
        """Turn a form or CLI value into the setting's type, or raise ValueError with a reason."""
        if isinstance(self.default, bool):
            if isinstance(raw, bool):
                value: Any = raw
            elif str(raw).lower() in ("1", "true", "yes", "on"):
                value = True
            elif str(raw).lower() in ("0", "false", "no", "off", ""):
                value = False
            else:
                raise ValueError(f"{self.name} must be yes or no, not {raw!r}")
        elif isinstance(self.default, int):
            try:
                value = int(raw)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{self.name} must be a whole number, not {raw!r}") from exc
            if value < 0:
                raise ValueError(f"{self.name} must not be negative")
        elif isinstance(self.default, list | tuple):
            if isinstance(raw, str):
                value = [part.strip() for part in raw.split(",") if part.strip()]
            else:
                value = list(raw)
        else:
            value = "" if raw is None else str(raw)
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{self.name} must be one of {', '.join(map(str, self.choices))}, not {value!r}")
        return value


DEFINITIONS: list[Setting] = [
    Setting("batch_size", 200, "Most requests sent to QuickBooks in one Web Connector round trip.",
            group="Performance"),
    Setting("exchange_budget_ms", 2000,
            "Most milliseconds the service spends preparing one round trip, so each Web Connector call "
            "stays well under its timeout.", group="Performance"),
    Setting("max_message_bytes", 4_000_000, "Largest qbXML message sent in one round trip.",
            group="Performance"),
    Setting("retry_base_seconds", 60, "First wait before retrying a request QuickBooks could not take "
            "(locked record, busy company file); doubles on each try.", group="Errors"),
    Setting("retry_max_seconds", 3600, "Longest wait between retries.", group="Errors"),
    Setting("corrective_after_sessions", 3, "After this many sessions in which a job failed, try its "
            "corrective step (fresh EditSequence, re-create a deleted record) or park it for a person.",
            group="Errors"),
]

BY_NAME: dict[str, Setting] = {s.name: s for s in DEFINITIONS}


def register(*settings: Setting) -> None:
    """Add setting definitions (the sync engine's modules declare theirs beside the code that reads them)."""
    for setting in settings:
        if setting.name in BY_NAME:
            raise ValueError(f"setting {setting.name} defined twice")
        DEFINITIONS.append(setting)
        BY_NAME[setting.name] = setting


class SyncSettings(Mapping[str, Any]):
    """A connection's effective settings: stored overrides over the defaults."""

    def __init__(self, overrides: Mapping[str, Any] | None = None) -> None:
        self._overrides = dict(overrides or {})

    def __getitem__(self, name: str) -> Any:
        if name in self._overrides:
            return self._overrides[name]
        return BY_NAME[name].default

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    def __iter__(self):
        return iter(BY_NAME)

    def __len__(self) -> int:
        return len(BY_NAME)


def validate_overrides(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Parse submitted values; unknown names and bad values raise ValueError naming the setting."""
    parsed: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in BY_NAME:
            raise ValueError(f"unknown setting {name!r}")
        parsed[name] = BY_NAME[name].parse(value)
    return parsed
