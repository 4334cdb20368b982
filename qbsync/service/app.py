"""The application factory: one WSGI app serving SOAP at /qbwc, webhooks, admin pages and health."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from sqlalchemy import text
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix

from qbsync.config import Config
from qbsync.service import logging_setup, metrics
from qbsync.service.pages import register_pages
from qbsync.service.runtime import Runtime, current, open_runtime
from qbsync.webhooks.views import blueprint as webhooks

log = logging.getLogger(__name__)


def create_app(
    config: Config | None = None, runtime: Runtime | None = None, *, upgrade: bool = True
) -> Flask:
    """Build the app. With no arguments it reads the environment and migrates the database."""
    if runtime is None:
        runtime = open_runtime(config or Config.from_env(), upgrade=upgrade)
    app = Flask(__name__)
    app.config["QBSYNC_RUNTIME"] = runtime
    app.config["MAX_CONTENT_LENGTH"] = None  # webhooks enforce their own limit (413 with a reason)
    app.extensions["qbsync"] = runtime

    @app.get("/healthz")
    def healthz() -> Any:
        """Database and Redis reachability, for load balancers and monitoring."""
        checks: dict[str, str] = {}
        try:
            with runtime.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # report, never raise, from a health check
            checks["database"] = f"error: {type(exc).__name__}"
        if runtime.dispatcher.uses_redis:
            checks["redis"] = "ok" if runtime.dispatcher.redis_ok() else "error: unreachable"
        ok = all(v == "ok" for v in checks.values())
        return jsonify(status="ok" if ok else "error", checks=checks), (200 if ok else 503)

    _register_blueprints(app)
    metrics.register(app)
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/qbwc": _soap_app(runtime)})  # type: ignore[method-assign]
    if runtime.config.trusted_proxies:
        # Behind nginx: trust its X-Forwarded-For/Proto/Host so https is seen as https (Secure cookies,
        # .qwc URLs) and client addresses are real (login throttling).
        n = runtime.config.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    # Outermost: every request, SOAP included, gets a request id in its log lines and its answer.
    logging_setup.install_request_id(app)
    return app


def _register_blueprints(app: Flask) -> None:

    app.register_blueprint(webhooks)
    register_pages(app)


def _soap_app(runtime: Runtime) -> Any:
    from qbsync.qwc.soap import create_soap_app

    return create_soap_app(runtime)


def runtime_of(app: Flask | None = None) -> Runtime:
    """The runtime of ``app`` (or of the current process)."""
    if app is not None:
        return app.extensions["qbsync"]
    return current()
