"""Sync settings per connection: every setting with its default and help, grouped; only overrides stored."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from qbsync.queue import setup
from qbsync.queue.settings import BY_NAME, DEFINITIONS, Setting, SyncSettings, validate_overrides
from qbsync.service.pages.lookup import all_connections, chosen_connection, connection_or_404, runtime
from qbsync.storage.models import Connection

log = logging.getLogger(__name__)

blueprint = Blueprint("settings", __name__, url_prefix="/settings")


@dataclass(frozen=True)
class Field:
    """One setting as a form field."""

    setting: Setting
    widget: str  # "yesno", "choice", "number", "list", "text"
    value: str
    default: str
    overridden: bool
    error: str | None = None

    @property
    def label(self) -> str:
        return self.setting.name.replace("_", " ").capitalize()


def widget_of(setting: Setting) -> str:
    """Which input fits the setting's type."""
    if isinstance(setting.default, bool):
        return "yesno"
    if setting.choices is not None:
        return "choice"
    if isinstance(setting.default, int):
        return "number"
    if isinstance(setting.default, list | tuple):
        return "list"
    return "text"


def shown(value: Any) -> str:
    """A setting value as it appears in its field."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def fields_for(conn: Connection, submitted: Mapping[str, str] | None = None,
               errors: Mapping[str, str] | None = None) -> dict[str, list[Field]]:
    """The settings form, grouped, showing ``submitted`` values (after a failed save) or the stored ones."""
    effective = SyncSettings(conn.settings)
    overrides = conn.settings or {}
    groups: dict[str, list[Field]] = {}
    for setting in DEFINITIONS:
        value = submitted[setting.name] if submitted and setting.name in submitted else shown(
            effective[setting.name])
        groups.setdefault(setting.group, []).append(Field(
            setting=setting, widget=widget_of(setting), value=value, default=shown(setting.default),
            overridden=setting.name in overrides, error=(errors or {}).get(setting.name)))
    return groups


def parse_form(form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Each submitted setting parsed on its own, so every bad field gets its own message."""
    parsed: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for setting in DEFINITIONS:
        if setting.name not in form:
            continue
        try:
            parsed.update(validate_overrides({setting.name: form[setting.name]}))
        except ValueError as exc:
            errors[setting.name] = str(exc)
    return parsed, errors


def overrides_of(parsed: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
    """What to store: values that differ from their default, plus stored names this process does not know."""
    kept = {name: value for name, value in previous.items() if name not in BY_NAME}
    for name, value in parsed.items():
        default = BY_NAME[name].default
        if value != (list(default) if isinstance(default, tuple) else default):
            kept[name] = value
    return kept


@blueprint.get("")
def index() -> Any:
    """Settings of the first connection."""
    with runtime().db.transaction() as session:
        conn = chosen_connection(session, request.args.get("connection"))
        if conn is None:
            return redirect(url_for("connections.new"))
        return redirect(url_for("settings.show", name=conn.name))


@blueprint.get("/<name>")
def show(name: str) -> Any:
    """The settings form."""
    with runtime().db.transaction() as session:
        conn = connection_or_404(session, name)
        return render_template("settings.html", conn=conn, groups=fields_for(conn),
                               connections=all_connections(session), errors={})


@blueprint.post("/<name>")
def save(name: str) -> Any:
    """Validate and store the overrides; bad values are shown next to their fields and nothing is saved."""
    form = {k: v for k, v in request.form.items() if k in BY_NAME}
    parsed, errors = parse_form(form)
    with runtime().db.transaction() as session:
        conn = connection_or_404(session, name)
        for setting, problem in setup.setting_errors(session, conn, parsed).items():
            errors.setdefault(setting, problem)
        if errors:
            return render_template("settings.html", conn=conn, groups=fields_for(conn, form, errors),
                                   connections=all_connections(session), errors=errors), 400
        before = SyncSettings(conn.settings)
        overrides = overrides_of(parsed, conn.settings or {})
        conn.settings = validate_overrides({k: v for k, v in overrides.items() if k in BY_NAME}) | {
            k: v for k, v in overrides.items() if k not in BY_NAME}
        changed = [k for k, v in parsed.items() if before[k] != v]
        setup.settings_saved(session, conn.id, changed)  # jobs waiting on a record a setting names go on
    log.info("sync settings of %s saved (%d overrides)", name, len(overrides))
    flash("Settings saved. They apply from the next Web Connector session.", "ok")
    return redirect(url_for("settings.show", name=name))
