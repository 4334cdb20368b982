"""Preflight: every reference by name in a request is checked against the company's lists before it is sent.

QuickBooks answers 3140 for a reference to a record it lacks ("Shipping and Delivery Income" on a company
whose chart is the merchant's own). Such a request never goes out: its job waits with the cause named —
for the company setup or the list refresh that will settle it, or for a person — and is woken when that
happens (lists refreshed, a setting saved, the record created). References by ListID are left alone: they
came from QuickBooks' own answers.
"""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qbsync.queue import jobs, lists
from qbsync.queue.choices import BY_SETTING
from qbsync.queue.settings import SyncSettings
from qbsync.storage.models import Connection, QueueJob, utcnow

STEP = "preflight"  # the step of a job waiting here (a waiting job is never in flight, so no step clashes)
# Reference element -> the list its FullName must be in.
REFERENCES: dict[str, str] = {
    "AccountRef": "Account",
    "IncomeAccountRef": "Account",
    "COGSAccountRef": "Account",
    "AssetAccountRef": "Account",
    "DepositToAccountRef": "Account",
    "ARAccountRef": "Account",
    "ItemRef": "Item",
    "ItemSalesTaxRef": "Item",
    "PaymentMethodRef": "PaymentMethod",
    "SalesTaxCodeRef": "SalesTaxCode",
    "CustomerSalesTaxCodeRef": "SalesTaxCode",
    "TaxVendorRef": "Vendor",
    "ClassRef": "Class",
}
WORDS = {"Account": "account", "Item": "item", "PaymentMethod": "payment method",
         "SalesTaxCode": "sales tax code", "Vendor": "vendor", "Class": "class"}


@dataclass(frozen=True)
class Missing:
    """A reference by name to a record the company's list does not hold."""

    element: str  # "AccountRef"
    list_type: str
    name: str

    def describe(self, settings: dict[str, object] | None = None) -> str:
        """"account 'X' (setting shipping_account)", in the merchant's words."""
        text = f"{WORDS.get(self.list_type, self.list_type)} {self.name!r}"
        named_by = [n for n, need in BY_SETTING.items()
                    if need.list_type == self.list_type and settings
                    and str(settings.get(n) or "").casefold() == self.name.casefold()]
        return f"{text} (setting {named_by[0]})" if named_by else text


# A reference is rendered on one line, ListID then FullName (``template_plan``'s ``q.ref``), its name escaped;
# read with patterns rather than by parsing each request again (a request per order of every round trip).
_REFERENCE = re.compile(r"<(" + "|".join(REFERENCES) + r")>(.*?)</\1>", re.S)
_FULL_NAME = re.compile(r"<FullName>(.*?)</FullName>", re.S)
_LIST_ID = re.compile(r"<ListID[\s/>]")


def references(fragment: str) -> list[tuple[str, str, str]]:
    """Every (element, list type, full name) referenced by name in a request fragment (pure)."""
    if "Ref>" not in fragment:
        return []
    found = []
    for match in _REFERENCE.finditer(fragment):
        element, inner = match.group(1), match.group(2)
        name = _FULL_NAME.search(inner)
        if name and name.group(1) and _LIST_ID.search(inner) is None:
            found.append((element, REFERENCES[element], html.unescape(name.group(1))))
    return found


def missing_references(fragment: str, known: Callable[[str, str], bool | None]) -> list[Missing]:
    """The references QuickBooks would refuse: ``known(list type, name)`` says True, False (the list was read
    and lacks it) or None (the list was never read: nothing can be said)."""
    seen: set[tuple[str, str]] = set()
    found = []
    for element, list_type, name in references(fragment):
        key = (list_type, name.casefold())
        if key in seen:
            continue
        seen.add(key)
        if known(list_type, name) is False:
            found.append(Missing(element, list_type, name))
    return found


def known_in(session: Session, connection_id: int,
             cache: dict[str, Any] | None = None) -> Callable[[str, str], bool | None]:
    """``known`` for :func:`missing_references` from the pulled lists (kept current as qbsync adds).

    A list being read counts as read: the reference waits for the refresh rather than risk a 3140.
    """
    judged = cache if cache is not None else {}

    def readable(list_type: str) -> bool:
        key = f"preflight_list:{list_type}"
        if key not in judged:
            judged[key] = (
                lists.has_list(session, connection_id, list_type)
                or lists.last_refreshed(session, connection_id, list_type) is not None
                or jobs.find_open(session, connection_id, lists.refresh_key(list_type),
                                  include_in_flight=True) is not None
            )
        return bool(judged[key])

    def known(list_type: str, name: str) -> bool | None:
        if lists.by_name(session, connection_id, list_type, name) is not None:
            return True
        return False if readable(list_type) else None
    return known


def wait(job: QueueJob, reason: str, now: datetime) -> None:
    """Park ``job`` in the preflight wait: not sent, its cause named, woken by :func:`wake`."""
    job.state = "waiting"
    job.step = STEP
    job.reason = reason
    job.session_id = None
    job.updated_at = now


_DEFERRED = "qbsync.preflight_wakes_deferred"  # session.info: connections to wake when the batch ends


@contextlib.contextmanager
def wakes_deferred(session: Session, now: datetime) -> Iterator[None]:
    """Inside, :func:`wake` only notes its connection; each noted connection is woken once on leaving.

    For the answers of one round trip: every item added would otherwise query the waiting jobs (and
    write the round trip's changes so far) once per item.
    """
    noted: set[int] = set()
    session.info[_DEFERRED] = noted
    try:
        yield
    finally:
        session.info.pop(_DEFERRED, None)
    for connection_id in sorted(noted):
        wake(session, connection_id, now)


def wake(session: Session, connection_id: int, now: datetime | None = None) -> int:
    """Something that may settle a missing reference happened: jobs in the preflight wait try again.

    Returns how many; 0 inside :func:`wakes_deferred`, which wakes them when it ends.
    """
    deferred = session.info.get(_DEFERRED)
    if deferred is not None:
        deferred.add(connection_id)
        return 0
    now = now or utcnow()
    woken = session.scalars(
        select(QueueJob).where(QueueJob.connection_id == connection_id, QueueJob.state == "waiting",
                               QueueJob.step == STEP, ~jobs.unfinished_dependency_exists(QueueJob.id))
    ).all()
    for job in woken:
        job.state = "pending"
        job.reason = None
        job.step = None
        job.updated_at = now
    return len(woken)


EXEMPT_KINDS = ("list_refresh", "qbxml")  # reads, and a person's own qbXML
SETTINGS_CHANGED = "settings_changed"  # round-trip cache flag: the company setup changed the settings


def hold_back(session: Session, connection: Connection, settings: Mapping[str, Any], job: QueueJob,
              fragment: str, now: datetime, cache: dict[str, Any]) -> bool:
    """Whether ``job``'s request must not be sent: it names a record the company lacks. The job then
    waits — for the company setup or list refresh that will settle it, for the special item's job, or
    (with the cause named) for a person — and is woken when that happens."""
    if job.kind in EXEMPT_KINDS:
        return False
    missing = missing_references(fragment, known_in(session, connection.id, cache))
    if not missing:
        return False
    if cache.get(SETTINGS_CHANGED):
        # The company setup changed the settings in this round trip, after this request was built with the
        # old ones: it stays queued and is built again with the new ones in the next round trip.
        return True
    what = ", ".join(m.describe(dict(settings)) for m in missing[:3])
    job.last_request_xml = fragment  # what would have been sent, for a person to read
    blockers = _blockers(session, connection, settings, missing, cache)
    blockers = [b for b in blockers if b.id != job.id]
    if blockers:
        for blocker in blockers:
            jobs.add_dependency(session, job, blocker)
        if job.state == "waiting":
            names = ", ".join(f"#{b.id} ({b.label or b.kind})" for b in blockers[:3])
            job.reason = f"not sent yet: QuickBooks has no {what}; waiting for {names}"
            job.updated_at = now
            return True
    wait(job, f"QuickBooks has no {what}: choose another on the setup page (or create it in QuickBooks); "
              "the job goes on by itself once the setting is saved or the lists are read again", now)
    return True


def _blockers(session: Session, connection: Connection, settings: Mapping[str, Any], missing: list[Missing],
              cache: dict[str, Any]) -> list[QueueJob]:
    """The queued jobs that may settle ``missing``: the company setup or its job adding the record, a refresh
    of its lists, or the job adding the special item (shipping, discount, rounding...) it names."""
    from qbsync.queue import intake, setup
    from qbsync.queue.handlers.items import SPECIAL_ITEMS, special_name

    if "preflight_setup" not in cache:
        cache["preflight_setup"] = setup.open_setup(session, connection.id)
    found: list[QueueJob] = [cache["preflight_setup"]] if cache["preflight_setup"] is not None else []
    for list_type in {m.list_type for m in missing}:
        refresh = jobs.find_open(session, connection.id, lists.refresh_key(list_type), include_in_flight=True)
        if refresh is not None:
            found.append(refresh)
    for m in missing:  # the setup's job adding the very record
        add = setup.adding(session, connection.id, m.list_type, m.name)
        if add is not None:
            found.append(add)
    if found:
        return found
    names = {m.name.casefold() for m in missing if m.list_type == "Item"}
    roles = [role for role in SPECIAL_ITEMS if special_name(role, settings).casefold() in names]
    if roles:
        found += intake.special_item_jobs(session, connection, SyncSettings(connection.settings), roles)
    return found
