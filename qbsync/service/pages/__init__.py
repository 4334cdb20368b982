"""The admin pages: first-run setup and sign-in, dashboard, connections, queue, log, push, mappings,
settings. Server-rendered Jinja2 with a little plain JavaScript; everything served by the app itself.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from qbsync.service import security
from qbsync.service.pages import (
    auth,
    company_setup,
    connections,
    dashboard,
    deliveries,
    errors,
    formatting,
    log,
    mappings,
    push,
    queue,
    settings,
    users,
)

# The main navigation: (endpoint, label).
NAV = [
    ("dashboard.index", "Dashboard"),
    ("queue.index", "Queue"),
    ("errors.index", "Sync errors"),
    ("log.index", "Log"),
    ("deliveries.index", "Deliveries"),
    ("push.index", "Push"),
    ("mappings.index", "Mappings"),
    ("settings.index", "Settings"),
    ("connections.index", "Connections"),
    ("users.index", "Users"),
]

BLUEPRINTS = (auth.blueprint, dashboard.blueprint, connections.blueprint, queue.blueprint, errors.blueprint,
              log.blueprint, deliveries.blueprint, push.blueprint, mappings.blueprint, settings.blueprint,
              users.blueprint, company_setup.blueprint)


class RecordIdConverter(IntegerConverter):
    """``<int:…>`` in page URLs: ids beyond a 64-bit database integer are a 404, not a database error."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = 2**63 - 1, signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def register_pages(app: Flask) -> None:
    """Add the admin pages, their security and their templates' helpers to ``app``."""
    # Before the blueprints: a rule takes its converters when it is added.
    app.url_map.converters["int"] = RecordIdConverter
    security.configure(app, app.extensions["qbsync"])
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    formatting.install(app)
    app.jinja_env.globals.update(csrf_token=security.csrf_token, current_user=security.current_user,
                                 nav=NAV, csrf_field=security.CSRF_FIELD)
    app.register_error_handler(HTTPException, _error_page)


def _error_page(error: HTTPException) -> Any:
    """Admin pages get a readable error page; machine endpoints keep their own answers."""
    if _is_machine_request():
        return error
    return render_template("error.html", error=error), error.code or 500


def _is_machine_request() -> bool:
    endpoint = request.endpoint or ""
    if endpoint.rpartition(".")[0] in security.PUBLIC_BLUEPRINTS or endpoint in ("healthz", "metrics"):
        return True
    return request.path.startswith(("/webhooks/", "/qbwc")) or (
        request.accept_mimetypes.best == "application/json" and not request.accept_mimetypes.accept_html
    )
