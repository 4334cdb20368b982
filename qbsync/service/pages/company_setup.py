"""The company setup page: for every account, item, payment method and tax code the settings need, a picker
filled from the company's lists with qbsync's proposal preselected, "create in QuickBooks" for what is
missing, and what qbsync already chose or created. Saving marks the choices as reviewed (qbsync no longer
chooses for them) and queues the setup job that creates what was asked for at the next session.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from qbsync.queue import choices, lists, preflight, setup
from qbsync.queue.settings import BY_NAME
from qbsync.service.pages.lookup import connection_or_404, runtime
from qbsync.storage.models import Connection

log = logging.getLogger(__name__)

blueprint = Blueprint("company_setup", __name__, url_prefix="/company-setup")
CREATE = "__create__"  # the picker's "create in QuickBooks" value (no QuickBooks name starts so)


@dataclass(frozen=True)
class Row:
    """One setting on the page: its proposal and the picker's options."""

    proposal: choices.Proposal
    options: tuple[str, ...]
    selected: str  # an option, or CREATE
    create_name: str  # the name "create in QuickBooks" adds
    reviewed: bool

    @property
    def setting(self) -> str:
        return self.proposal.setting

    @property
    def label(self) -> str:
        return self.proposal.setting.replace("_", " ").capitalize()


def rows_for(session: Any, conn: Connection) -> list[Row]:
    """The page's rows: every need the settings use, payment methods included."""
    reviewed = set(setup.state(session, conn.id)["reviewed"])
    company = setup.company(session, conn.id)
    found = []
    for proposal in setup.proposals(session, conn, company):
        if proposal.action == choices.UNUSED:
            continue
        need = proposal.need
        everything = [e.name for e in company.of(need.list_type) if e.name not in proposal.candidates]
        options = (*proposal.candidates, *([] if need.list_type == "SalesTaxCode" else everything))
        if proposal.action == choices.KEEP and proposal.choice and proposal.choice not in options:
            options = (proposal.choice, *options)
        create_name = proposal.choice if proposal.action == choices.CREATE else choices.free_name(
            company, need.list_type, proposal.current or str(BY_NAME.get(need.setting, need).default or ""))
        selected = CREATE if proposal.action == choices.CREATE else proposal.choice
        found.append(Row(proposal, tuple(options), selected, create_name, need.setting in reviewed))
    return found


@blueprint.get("/<name>")
def show(name: str) -> Any:
    """The setup page of one connection."""
    with runtime().db.transaction() as session:
        conn = connection_or_404(session, name)
        read = lists.last_refreshed(session, conn.id, "Account") is not None
        state = setup.state(session, conn.id)
        return render_template(
            "company_setup.html", conn=conn, read=read, rows=rows_for(session, conn) if read else [],
            company=setup.company(session, conn.id), done=list(reversed(state["done"])),
            pending=setup.open_setup(session, conn.id), create=CREATE)


@blueprint.post("/<name>")
def save(name: str) -> Any:
    """Store the chosen records as settings (marked reviewed); "create" ones are added at the next session."""
    with runtime().db.transaction() as session:
        conn = connection_or_404(session, name)
        rows = {row.setting: row for row in rows_for(session, conn)
                if row.proposal.need is not choices.PAYMENT_METHOD}
        chosen: dict[str, str] = {}
        for setting, row in rows.items():
            value = request.form.get(f"choice-{setting}")
            if value is None:
                continue
            need = row.proposal.need
            if value == CREATE:
                if need.create is None:
                    abort(400, description=f"qbsync cannot create a {need.list_type} for {setting}")
                chosen[setting] = row.create_name
            elif value in row.options or (value == "" and (need.empty_ok or row.selected == "")):
                chosen[setting] = value
            else:
                abort(400, description=f"{value!r} is not one of QuickBooks' records for {setting}")
        for setting, value in chosen.items():
            setup.set_setting(conn, setting, value)
        setup.mark_reviewed(session, conn.id, chosen)
        setup.request_setup(session, conn.id)
        preflight.wake(session, conn.id)
    log.info("company setup of %s saved (%d settings reviewed)", name, len(chosen))
    flash("Saved. What you asked qbsync to create is added to QuickBooks at the next Web Connector session; "
          "orders waiting for it go on by themselves.", "ok")
    return redirect(url_for("company_setup.show", name=name))
