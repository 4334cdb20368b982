"""The company setup job: what the merchant has not reviewed is chosen by type or created, before orders.

It runs after the list refresh it was queued with. Each build takes the proposals of ``choices.propose``
over the lists just read: a setting whose record is missing and that a person has not reviewed on the
setup page gets the existing record that fits (stored as the setting, no request), or qbsync adds one
(``AccountAdd``, ``VendorAdd``, ``ItemSalesTaxAdd``, ``PaymentMethodAdd``; a setting a person reviewed is
never switched to another record, but what they asked to create is created). Each add is a job of its own
(``setup.queue_adds``, payload ``{"add": {...}}``), so independent adds share one round trip and an add
naming a record another adds waits for it; the setting names the new record from then on, and jobs whose
request names it wait for its add (preflight). What was chosen or created is recorded for the setup page.
"""

from __future__ import annotations

from qbsync.qbxml.parse import Response
from qbsync.queue import choices, jobs, lists, preflight, setup
from qbsync.queue.handlers import (
    Again,
    ApplyResult,
    BuildResult,
    Context,
    Done,
    Finish,
    Park,
    progress,
    register,
    render,
    set_progress,
)
from qbsync.queue.handlers.answers import FOUND
from qbsync.queue.settings import SyncSettings
from qbsync.storage.models import QueueJob


def _summary(done: list[str], left: list[str]) -> str:
    text = f"company set up: {'; '.join(done)}" if done else "company set up: nothing to choose or create"
    if left:
        text += f"; left for a person on the setup page: {'; '.join(left)}"
    return text


class CompanySetupHandler:
    """Queue jobs of kind ``company_setup``: no payload (the setup itself) or ``{"add": {...}}`` (one add)."""

    kind = setup.KIND

    def build(self, ctx: Context, job: QueueJob) -> BuildResult:
        session, connection = ctx.session, ctx.connection
        add = job.payload.get("add")
        if add:  # one record the setup adds
            data = {k: v for k, v in add["data"].items() if v is not None}
            return render(ctx, str(add["request_type"]), data, "create")
        reviewed = set(setup.state(session, connection.id)["reviewed"])
        done = list(progress(job).get("done") or [])
        company = setup.company(session, connection.id)
        for setting, value, why in choices.preference_changes(company, SyncSettings(connection.settings)):
            if setting not in reviewed:
                setup.set_setting(connection, setting, value)
                setup.record(session, connection.id, setting, value, "chosen", ctx.now)
                done.append(f"{setting} → {value!r} ({why})")
        adds = []
        for proposal in setup.proposals(session, connection, company):
            if proposal.action == choices.CHOOSE and proposal.setting not in reviewed:
                setup.set_setting(connection, proposal.setting, proposal.choice)
                setup.record(session, connection.id, proposal.setting, proposal.choice, "chosen", ctx.now)
                done.append(f"{proposal.setting} → {proposal.choice!r} (chosen by type)")
            elif proposal.action == choices.CREATE and proposal.need.when_needed:
                # Its item job adds it when the first order needs it; it only takes a name that is free.
                if proposal.choice != proposal.current and proposal.setting not in reviewed:
                    setup.set_setting(connection, proposal.setting, proposal.choice)
                    ctx.cache[preflight.SETTINGS_CHANGED] = True
            elif proposal.action == choices.CREATE and proposal.request is not None:
                # Reviewed or not: a person who picked a name on the setup page asked for it to be created.
                adds.append(proposal)
                if proposal.setting in choices.BY_SETTING and proposal.choice != proposal.current:
                    setup.set_setting(connection, proposal.setting, proposal.choice)  # the record being added
                    ctx.cache[preflight.SETTINGS_CHANGED] = True
        queued = setup.queue_adds(session, connection.id, adds, ctx.now)
        done += [f"{p.setting} → {p.choice!r} (being added)" for p in adds]
        set_progress(job, done=done)
        if done:
            ctx.cache[preflight.SETTINGS_CHANGED] = True
        preflight.wake(session, connection.id, ctx.now)
        left = [f"{p.setting} ({p.reason})" for p in setup.proposals(session, connection, company)
                if p.action == choices.MISSING]
        summary = _summary(done, left)
        if queued:
            summary += f"; {len(queued)} add(s) queued: " + ", ".join(f"#{j.id}" for j in queued)
        return Finish(summary)

    def apply(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        notes = job.payload.get("add") or progress(job)  # progress: a setup sent before adds had jobs
        setting, name, list_type = str(notes["setting"]), str(notes["name"]), str(notes["list_type"])
        if response.outcome in FOUND and response.record:
            ret_type = response.record_types[0]
            lists.remember(ctx.session, ctx.connection.id, list_type, ret_type, response.record)
            if setting in choices.BY_SETTING:
                setup.set_setting(ctx.connection, setting, name)
            setup.record(ctx.session, ctx.connection.id, setting, name, "created", ctx.now)
            preflight.wake(ctx.session, ctx.connection.id, ctx.now)
            if job.payload.get("add"):
                return Done(f"added {name!r} to QuickBooks for {setting}")
            set_progress(job, done=[*(notes.get("done") or []), f"{setting} → {name!r} (created)"])
            return Again(f"added {name!r} to QuickBooks")
        reason = (f"QuickBooks refused to add {name!r} for {setting} ({response.status_code}): "
                  f"{response.message} Choose an existing record on the setup page, then retry")
        # An add that names this record cannot succeed either; nothing else waits on it: each job meets what
        # is still missing in its own preflight, so orders that need none of it go on.
        for dependent in jobs.dependents(ctx.session, job):
            if dependent.kind == setup.KIND and dependent.state in jobs.OPEN_STATES:
                jobs.detach_dependents(ctx.session, dependent, ctx.now)
                jobs.park(ctx.session, dependent, f"not added: it names {name!r}, which QuickBooks refused "
                          f"to add ({response.status_code}: {response.message})", ctx.now)
        jobs.detach_dependents(ctx.session, job, ctx.now)
        preflight.wake(ctx.session, ctx.connection.id, ctx.now)
        return Park(reason)


register(CompanySetupHandler())
