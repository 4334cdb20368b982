"""Company setup: the merchant's company as :mod:`qbsync.queue.choices` sees it, and what was decided.

The decisions (pure) are in ``choices``; this module reads the company from the pulled lists, keeps the
setup's record (which settings a person reviewed on the setup page, and what qbsync chose or created, so
the page can list it) in a checkpoint, and queues the ``company_setup`` job that applies the proposals at
the next session, before the orders that need them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qbsync.queue import choices, jobs, lists
from qbsync.queue.settings import BY_NAME, SyncSettings, validate_overrides
from qbsync.storage import checkpoints
from qbsync.storage.models import Connection, QbListEntry, QueueJob, utcnow

KIND = "company_setup"
COALESCE_KEY = "company_setup"
PRIORITY = 6  # after the list refresh (5) it waits for, before customers, items and orders
STATE = "company_setup"
COMPANY_LISTS = ("Account", "Item", "PaymentMethod", "SalesTaxCode", "Vendor", "Class")


def company(session: Session, connection_id: int) -> choices.Company:
    """The company as last read from QuickBooks (lists, HostQuery, PreferencesQuery)."""
    rows = session.execute(
        select(QbListEntry.list_type, QbListEntry.full_name, QbListEntry.data).where(
            QbListEntry.connection_id == connection_id, QbListEntry.list_type.in_(COMPANY_LISTS))
    )
    entries = []
    agencies = []
    for list_type, name, data in rows:
        data = data or {}
        entries.append(choices.entry_of(list_type, name, data))
        vendor = data.get("TaxVendorRef")
        if isinstance(vendor, Mapping) and vendor.get("FullName"):
            agencies.append(str(vendor["FullName"]))
    read = [name for name in COMPANY_LISTS if lists.last_refreshed(session, connection_id, name) is not None]
    read += sorted({e.list_type for e in entries})  # entries qbsync added before any refresh
    return choices.company_of(entries, lists.company(session, connection_id, "Host"),
                              lists.company(session, connection_id, "Preferences"), agencies, read)


def defaults() -> dict[str, Any]:
    """Every setting's default (what a record is created as when the setting was never changed)."""
    return {name: setting.default for name, setting in BY_NAME.items()}


def proposals(session: Session, connection: Connection,
              known: choices.Company | None = None) -> list[choices.Proposal]:
    """What the company setup proposes for every setting that names a QuickBooks record (on ``known``, the
    company as :func:`company` reads it, when the caller has it already)."""
    return choices.propose(known or company(session, connection.id), SyncSettings(connection.settings),
                           defaults())


# --- the setup's record ------------------------------------------------------------------------------


def state(session: Session, connection_id: int) -> dict[str, Any]:
    """``{"reviewed": [setting...], "done": [{"setting", "name", "how", "at"}...]}``."""
    stored = checkpoints.read(session, connection_id, STATE)
    value = json.loads(stored) if stored else {}
    return {"reviewed": list(value.get("reviewed") or []), "done": list(value.get("done") or [])}


def _save(session: Session, connection_id: int, value: Mapping[str, Any]) -> None:
    checkpoints.save(session, connection_id, STATE, json.dumps(value, sort_keys=True))


def mark_reviewed(session: Session, connection_id: int, settings: Iterable[str]) -> None:
    """A person chose these settings on the setup page: qbsync no longer chooses for them."""
    value = state(session, connection_id)
    value["reviewed"] = sorted(set(value["reviewed"]) | set(settings))
    _save(session, connection_id, value)


def record(session: Session, connection_id: int, setting: str, name: str, how: str,
           now: datetime | None = None) -> None:
    """Remember that qbsync ``how`` ("chosen" or "created") ``name`` for ``setting`` (shown on the page)."""
    value = state(session, connection_id)
    value["done"] = [d for d in value["done"] if not (d["setting"] == setting and d["name"] == name)]
    value["done"].append({"setting": setting, "name": name, "how": how,
                          "at": (now or utcnow()).isoformat(timespec="seconds")})
    _save(session, connection_id, value)


def set_setting(connection: Connection, setting: str, value: Any) -> None:
    """Store one setting override (validated like a saved form)."""
    connection.settings = {**(connection.settings or {}), **validate_overrides({setting: value})}


def request_setup(session: Session, connection_id: int, now: datetime | None = None,
                  after: Iterable[QueueJob] = ()) -> QueueJob:
    """Queue the company setup (once), after the jobs in ``after`` (the list refresh it reads).

    A setup (or one of its adds) QuickBooks refused earlier (parked) is superseded: it is cancelled, and
    what waited for it goes through preflight again, against the new one.
    """
    now = now or utcnow()
    for parked in session.scalars(select(QueueJob).where(
            QueueJob.connection_id == connection_id, QueueJob.kind == KIND, QueueJob.state == "parked")):
        parked.state = "cancelled"
        parked.reason = "superseded by a newer company setup"
        parked.updated_at = now
        jobs.wake_dependents(session, parked, now)
    return jobs.enqueue(session, connection_id, KIND, {}, label="company setup: choose or create what the "
                        "settings name", coalesce_key=COALESCE_KEY, priority=PRIORITY,
                        depends_on=list(after), now=now)


def adding_key(list_type: str, name: str) -> str:
    """The coalescing key of the job adding the record ``name`` of ``list_type`` for the setup."""
    return f"{COALESCE_KEY}:{list_type}:{' '.join(name.split()).casefold()}"


def adding(session: Session, connection_id: int, list_type: str, name: str) -> QueueJob | None:
    """The setup's job adding ``name`` to QuickBooks' ``list_type`` list, while it is queued or being sent."""
    return jobs.find_open(session, connection_id, adding_key(list_type, name), include_in_flight=True)


def references(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(list type, name) of every record a request's ``data`` names by FullName (pure)."""
    from qbsync.queue.preflight import REFERENCES

    found = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            if key in REFERENCES and value.get("FullName"):
                found.append((REFERENCES[key], str(value["FullName"])))
            else:
                found.extend(references(value))
    return found


def queue_adds(session: Session, connection_id: int, adds: Iterable[choices.Proposal],
               now: datetime | None = None) -> list[QueueJob]:
    """One job per record the setup adds, so independent adds share a round trip; an add that names a
    record another one adds (a sales tax item its agency, an item its account) waits for it. A record
    already being added is not queued twice."""
    queued: dict[tuple[str, str], QueueJob] = {}
    for proposal in adds:
        if proposal.request is None:
            continue
        list_type, name = proposal.need.list_type, proposal.choice
        if adding(session, connection_id, list_type, name) is not None:
            continue
        request_type, data = proposal.request
        after = [queued[(t, n.casefold())] for t, n in references(data) if (t, n.casefold()) in queued]
        word = choices.word(proposal.need)
        queued[(list_type, name.casefold())] = jobs.enqueue(
            session, connection_id, KIND,
            {"add": {"setting": proposal.setting, "name": name, "list_type": list_type,
                     "request_type": request_type, "data": data}},
            label=f"company setup: add the {word} {name!r} ({proposal.setting})",
            coalesce_key=adding_key(list_type, name), priority=PRIORITY, depends_on=after, now=now)
    return list(queued.values())


def open_setup(session: Session, connection_id: int) -> QueueJob | None:
    """The company setup job still to run (queued, waiting or being sent), or None."""
    return jobs.find_open(session, connection_id, COALESCE_KEY, include_in_flight=True)


def longest_order_number(session: Session, connection_id: int) -> int:
    """The most characters an order number of this connection's store has had (0: no orders yet)."""
    from sqlalchemy import func

    from qbsync.storage.models import StorefrontRecord

    number = StorefrontRecord.data["number"].as_string()
    longest = session.scalar(select(func.max(func.length(number))).where(
        StorefrontRecord.connection_id == connection_id, StorefrontRecord.record_type == "order"))
    return int(longest or 0)


def setting_errors(session: Session, connection: Connection, parsed: Mapping[str, Any]) -> dict[str, str]:
    """Submitted settings QuickBooks would refuse: names the company's lists lack (with the closest ones)
    and values beyond QuickBooks' limits. Only values that change are judged by name, so a setting
    nobody touched never stops another from being saved."""
    from qbsync.queue.settings import limit_errors

    current = SyncSettings(connection.settings)
    changed = {name: value for name, value in parsed.items() if current[name] != value}
    errors = limit_errors(changed, longest_order_number(session, connection.id))
    errors.update(choices.length_errors(changed))
    named = {name: value for name, value in changed.items()
             if name in choices.BY_SETTING or name == "payment_method_map"}
    if named:
        errors.update({k: v for k, v in choices.name_errors(named, company(session, connection.id)).items()
                       if k not in errors})
    return errors


def settings_saved(session: Session, connection_id: int, changed: Iterable[str] = ()) -> None:
    """After settings changed: the records a person named are theirs (reviewed: never switched to another
    by the setup), jobs waiting on a record a setting named try again, and the setup runs."""
    from qbsync.queue import preflight

    reviewed = [name for name in changed if name in choices.BY_SETTING]
    if reviewed:
        mark_reviewed(session, connection_id, reviewed)
    request_setup(session, connection_id)
    preflight.wake(session, connection_id)
