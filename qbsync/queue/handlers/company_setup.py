"""The company setup job: what the merchant has not reviewed is chosen by type or created, before orders.

It runs after the list refresh it was queued with. Each build takes the proposals of ``choices.propose``
over the lists just read: a setting whose record is missing and that a person has not reviewed on the
setup page gets the existing record that fits (stored as the setting, no request), or qbsync adds one
(``AccountAdd``, ``ItemOtherChargeAdd``, ``ItemDiscountAdd``, ``ItemSalesTaxAdd``, ``PaymentMethodAdd``),
one request per round trip, accounts before the items that name them (a setting a person reviewed is
never switched to another record, but what they asked to create is created). What was chosen or created is
recorded for the setup page. Jobs that waited for it (preflight) are woken when it ends.
"""

from __future__ import annotations

from qbsync.qbxml.parse import Response
from qbsync.queue import choices, jobs, lists, preflight, setup
from qbsync.queue.handlers import (
    Again,
    ApplyResult,
    BuildResult,
    Context,
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
    """Queue jobs of kind ``company_setup`` (no payload)."""

    kind = setup.KIND

    def build(self, ctx: Context, job: QueueJob) -> BuildResult:
        session, connection = ctx.session, ctx.connection
        reviewed = set(setup.state(session, connection.id)["reviewed"])
        done = list(progress(job).get("done") or [])
        company = setup.company(session, connection.id)
        for setting, value, why in choices.preference_changes(company, SyncSettings(connection.settings)):
            if setting not in reviewed:
                setup.set_setting(connection, setting, value)
                setup.record(session, connection.id, setting, value, "chosen", ctx.now)
                done.append(f"{setting} → {value!r} ({why})")
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
                request_type, data = proposal.request
                if done:
                    ctx.cache[preflight.SETTINGS_CHANGED] = True
                set_progress(job, done=done, setting=proposal.setting, name=proposal.choice,
                             list_type=proposal.need.list_type)
                return render(ctx, request_type, {k: v for k, v in data.items() if v is not None}, "create")
        set_progress(job, done=done)
        if done:
            ctx.cache[preflight.SETTINGS_CHANGED] = True
        preflight.wake(session, connection.id, ctx.now)
        left = [f"{p.setting} ({p.reason})" for p in setup.proposals(session, connection, company)
                if p.action == choices.MISSING]
        return Finish(_summary(done, left))

    def apply(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        notes = progress(job)
        setting, name, list_type = str(notes["setting"]), str(notes["name"]), str(notes["list_type"])
        if response.outcome in FOUND and response.record:
            ret_type = response.record_types[0]
            lists.remember(ctx.session, ctx.connection.id, list_type, ret_type, response.record)
            if setting in choices.BY_SETTING:
                setup.set_setting(ctx.connection, setting, name)
            setup.record(ctx.session, ctx.connection.id, setting, name, "created", ctx.now)
            set_progress(job, done=[*(notes.get("done") or []), f"{setting} → {name!r} (created)"])
            return Again(f"added {name!r} to QuickBooks")
        # Nothing else waits on this: each job meets what is still missing in its own preflight, so orders
        # that need none of it go on.
        jobs.detach_dependents(ctx.session, job, ctx.now)
        preflight.wake(ctx.session, ctx.connection.id, ctx.now)
        return Park(
            f"QuickBooks refused to add {name!r} for {setting} ({response.status_code}): {response.message} "
            "Choose an existing record on the setup page, then retry"
        )


register(CompanySetupHandler())
