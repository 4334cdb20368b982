"""The `qbsync` command line: serve, connections, .qwc files, workers, the simulator."""

from __future__ import annotations

import logging
import sys

import click

from qbsync.config import Config
from qbsync.connections import (
    PLATFORMS,
    ConnectionSetupError,
    NewConnection,
    add_connection,
    get_connection,
    list_connections,
    rebind_same_company_file,
    rotate_webhook_secret,
    set_qbwc_password,
    set_store_url,
    switch_company_file,
)
from qbsync.service import logging_setup
from qbsync.service.demo import demo
from qbsync.service.ports import ensure_port_free, port_problem
from qbsync.service.runtime import Runtime, open_runtime
from qbsync.service.users_cli import connection_unlock, user
from qbsync.simulator.cli import simulate
from qbsync.storage.encryption import SecretKeyError
from qbsync.storefronts.cli import push, sweep


def _runtime(upgrade: bool = True) -> Runtime:
    try:
        return open_runtime(Config.from_env(), upgrade=upgrade)
    except (SecretKeyError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug output.")
def main(verbose: bool) -> None:
    """qbsync: sync WooCommerce and Shopify with QuickBooks Desktop through the Web Connector."""
    logging_setup.configure(logging.DEBUG if verbose else logging.INFO)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--threads", default=8, show_default=True, type=int, help="Worker threads.")
def serve(host: str, port: int, threads: int) -> None:
    """Run the service (SOAP at /qbwc, webhooks, admin pages) with waitress."""
    from waitress import serve as waitress_serve

    from qbsync.service import scheduler
    from qbsync.service.app import create_app

    ensure_port_free(host, port)
    runtime = _runtime()
    app = create_app(runtime=runtime)
    if not runtime.dispatcher.uses_redis:
        # Embedded default: periodic work runs here; with Redis it runs in `qbsync scheduler`.
        scheduler.start_thread(runtime)
    where = f"http://{host}:{port}"
    click.echo(f"qbsync serving on {where}  (Web Connector: {where}/qbwc, admin: {where}/)")
    click.echo(f"database: {runtime.db.engine.url.render_as_string(hide_password=True)}")
    _print_first_run_link(runtime, host, port)
    try:
        waitress_serve(app, host=host, port=port, threads=threads, ident="qbsync", **waitress_settings())
    except OSError as exc:  # taken a moment after the check above
        raise port_problem(exc, host, port) from exc


def _print_first_run_link(runtime: Runtime, host: str, port: int) -> None:
    """While no admin exists, print a one-time link to the first-run page (the page needs it)."""
    from qbsync.service import security

    with runtime.db.transaction() as session:
        if security.has_users(session):
            return
        token = security.issue_setup_token(session)
    # Listening on every interface: the link is opened on this machine.
    shown_host = "localhost" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    base = (runtime.config.public_url or f"http://{shown_host}:{port}").rstrip("/")
    click.echo(f"first run: open {base}/setup?token={token} to create the admin account "
               "(this link works once; or run `qbsync user add NAME` instead)")


# waitress reads requests on one event loop and hands only complete ones to its threads, so a client that
# trickles a request costs a socket, not a thread. Its default of 100 sockets let 110 such clients stop
# /healthz; allow many (poll(), not select(), which stops at descriptor 1024) and drop silent ones soon.
# gunicorn has no such loop (a slow client holds a thread) and stays behind nginx, which buffers requests.
WAITRESS_CONNECTION_LIMIT = 1000
WAITRESS_CHANNEL_TIMEOUT_SECONDS = 30  # a connection silent this long is closed (default 120)
WAITRESS_CLEANUP_INTERVAL_SECONDS = 10  # how often silent connections are looked for (default 30)


def waitress_settings() -> dict[str, object]:
    """The waitress adjustments `qbsync serve` uses (connection limit kept below the process' file limit)."""
    limit = WAITRESS_CONNECTION_LIMIT
    try:
        import resource  # not on Windows, which has no such per-process limit to respect
    except ImportError:
        resource = None
    if resource is not None:
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY:
            limit = max(100, min(limit, soft - 100))  # descriptors left for the database, logs and threads
    return {
        "connection_limit": limit,
        "channel_timeout": WAITRESS_CHANNEL_TIMEOUT_SECONDS,
        "cleanup_interval": WAITRESS_CLEANUP_INTERVAL_SECONDS,
        "asyncore_use_poll": True,
        "backlog": 1024,
    }


@main.group()
def connection() -> None:
    """Add, list and change connections (one store + one QuickBooks company)."""


@connection.command("add")
@click.argument("name")
@click.option("--platform", type=click.Choice(PLATFORMS), required=True)
@click.option("--store-url", required=True,
              help="e.g. https://shop.example.com (WooCommerce) or https://x.myshopify.com (Shopify)")
@click.option("--webhook-secret", help="The secret the storefront signs webhooks with. Leave out to be asked "
              "(or set QBSYNC_WEBHOOK_SECRET); '-' reads it from stdin.")
@click.option("--qbwc-username", required=True, help="User name the Web Connector will send.")
@click.option("--qbwc-password", help="Password typed into the Web Connector. Leave out to be asked (or set "
              "QBSYNC_QBWC_PASSWORD); '-' reads it from stdin.")
@click.option("--consumer-key", help="WooCommerce REST consumer key (for backfill and stock write-back).")
@click.option("--consumer-secret", help="WooCommerce REST consumer secret. Asked for when --consumer-key is "
              "given (or set QBSYNC_CONSUMER_SECRET); '-' reads it from stdin.")
@click.option("--access-token", help="Shopify Admin API access token: set QBSYNC_ACCESS_TOKEN, or '-' reads "
              "it from stdin.")
@click.option("--location-id", help="Shopify location for stock write-back.")
def connection_add(name: str, platform: str, store_url: str, webhook_secret: str | None, qbwc_username: str,
                   qbwc_password: str | None, consumer_key: str | None, consumer_secret: str | None,
                   access_token: str | None, location_id: str | None) -> None:
    """Add a connection NAME (secrets are asked for, read from stdin or the environment)."""
    runtime = _runtime()
    secrets = _connection_add_secrets(webhook_secret, qbwc_password, consumer_key, consumer_secret,
                                      access_token)
    creds = {"consumer_key": consumer_key, "consumer_secret": secrets["consumer_secret"],
             "access_token": secrets["access_token"], "location_id": location_id}
    spec = NewConnection(name=name, platform=platform, store_url=store_url,
                         webhook_secret=secrets["webhook_secret"] or "", qbwc_username=qbwc_username,
                         qbwc_password=secrets["qbwc_password"] or "",
                         api_credentials={k: v for k, v in creds.items() if v})
    try:
        with runtime.db.transaction() as session:
            conn = add_connection(session, spec)
            click.echo(f"added connection {conn.name!r} ({conn.platform}, {conn.store_url})")
    except ConnectionSetupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"next: `qbsync qwc {name} --url https://<this server>/qbwc > {name}.qwc` "
               "and load it into the Web Connector")


def _connection_add_secrets(webhook_secret: str | None, qbwc_password: str | None, consumer_key: str | None,
                            consumer_secret: str | None, access_token: str | None) -> dict[str, str | None]:
    """`connection add`'s secrets, in the order '-' values are read from stdin."""
    from qbsync.service.cli_secrets import secret

    return {
        "webhook_secret": secret(webhook_secret, "webhook_secret", "Webhook secret", required=True),
        "qbwc_password": secret(qbwc_password, "qbwc_password", "Web Connector password", required=True,
                                confirm=True),
        "consumer_secret": secret(consumer_secret, "consumer_secret", "WooCommerce consumer secret",
                                  required=bool(consumer_key)),
        "access_token": secret(access_token, "access_token", "Shopify access token", required=False),
    }


@connection.command("list")
def connection_list() -> None:
    """List connections."""
    runtime = _runtime()
    with runtime.db.transaction() as session:
        conns = list_connections(session)
        if not conns:
            click.echo("no connections yet: add one with `qbsync connection add`")
            return
        for c in conns:
            click.echo(f"{c.name}\t{c.platform}\t{c.store_url}\tWeb Connector user: {c.qbwc_username}")


@connection.command("set-password")
@click.argument("name")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The new Web Connector password.")
def connection_set_password(name: str, password: str) -> None:
    """Change the Web Connector password of connection NAME."""
    runtime = _runtime()
    try:
        with runtime.db.transaction() as session:
            set_qbwc_password(session, get_connection(session, name), password)
    except ConnectionSetupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("password changed: enter the new one in the Web Connector (right-click the app › Password)")


@connection.command("rotate-secret")
@click.argument("name")
@click.option("--webhook-secret", prompt=True, hide_input=True, help="The new webhook secret.")
def connection_rotate_secret(name: str, webhook_secret: str) -> None:
    """Set a new webhook secret for NAME (the previous one is still accepted for a while)."""
    runtime = _runtime()
    try:
        with runtime.db.transaction() as session:
            rotate_webhook_secret(session, get_connection(session, name), webhook_secret)
    except ConnectionSetupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("webhook secret rotated")


def _confirm(question: str, yes: bool) -> None:
    """Ask ``question`` unless ``--yes`` was given; a no stops the command with nothing changed."""
    if not yes and not click.confirm(question, default=False):
        raise click.ClickException("nothing was changed")


@connection.command("set-store-url")
@click.argument("name")
@click.argument("store_url")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def connection_set_store_url(name: str, store_url: str, yes: bool) -> None:
    """Correct connection NAME's store address to STORE_URL (the same store: e.g. a Shopify shop entered by
    its own domain, which must be its https://<shop>.myshopify.com address)."""
    runtime = _runtime()
    try:
        with runtime.db.transaction() as session:
            conn = get_connection(session, name)
            click.echo(f"connection {name} ({conn.platform}) has the store address: {conn.store_url}")
            click.echo(f"new address: {store_url} (the same store; another store's orders would be taken for "
                       "this one's, since orders are known by the store's own ids)")
            _confirm("the same store?", yes)
            set_store_url(session, conn, store_url)
            click.echo(f"connection {name} now uses {conn.store_url}")
    except ConnectionSetupError as exc:
        raise click.ClickException(str(exc)) from exc


@connection.command("switch-file")
@click.argument("name")
@click.option("--to", "to_file", help="The company file path to bind (as the Web Connector reports it). "
              "Leave out to take the one a refused update had open, else the one open at the next update.")
@click.option("--same-file", is_flag=True, help="The other path is this connection's own company file, "
              "moved or opened by another path (not a copy): keep every link.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def connection_switch_file(name: str, to_file: str | None, same_file: bool, yes: bool) -> None:
    """Move connection NAME to another QuickBooks company file (forgets the old file's links and lists), or
    with --same-file bind the path its own file now opens by (keeps them)."""
    from qbsync.queue import company_file

    runtime = _runtime()
    try:
        with runtime.db.transaction() as session:
            conn = get_connection(session, name)
            target = to_file or company_file.refused_file(session, conn)
            if same_file:
                click.echo(f"connection {name} belongs to: {conn.company_file or '(no file yet)'}")
                click.echo(f"the same file, now opened as: {target or '(none given)'}; every link is kept "
                           "(a copy of the file is not the same file: qbsync would book into the copy)")
                _confirm("same file?", yes)
                rebind_same_company_file(session, conn, target)
                click.echo(f"bound {target}: links kept; the next update syncs as before")
                return
            links = company_file.links_of(session, conn.id)
            click.echo(f"connection {name} belongs to: {conn.company_file or '(no file yet)'}")
            click.echo(f"switching to: {target or 'the file QuickBooks has open at the next update'}")
            click.echo(f"this forgets {links.describe()} of the old file; every record is looked up again in "
                       "the new file before anything is added or changed")
            _confirm("switch?", yes)
            forgotten = switch_company_file(session, conn, target)
    except ConnectionSetupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"switched: {forgotten.describe()} forgotten{forgotten.cancelled()}; QuickBooks' lists and "
               "company setup are read at the next update")


@main.command()
@click.argument("name")
@click.option("--url", required=True, help="The address the Web Connector reaches, ending in /qbwc.")
@click.option("--every", "run_every_minutes", default=5, show_default=True, help="Minutes between syncs.")
def qwc(name: str, url: str, run_every_minutes: int) -> None:
    """Print the .qwc file for connection NAME (load it into the Web Connector)."""
    from qbsync.qwc.qwcfile import build_qwc

    runtime = _runtime()
    try:
        with runtime.db.transaction() as session:
            qwc_file = build_qwc(get_connection(session, name), url, run_every_minutes=run_every_minutes)
    except ConnectionSetupError as exc:
        raise click.ClickException(str(exc)) from exc
    for warning in qwc_file.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(qwc_file.xml, nl=False)


@main.command()
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
def worker(burst: bool) -> None:
    """Run an rq worker for background jobs (needs QBSYNC_REDIS_URL)."""
    runtime = _runtime()
    if not runtime.config.redis_url:
        raise click.ClickException("QBSYNC_REDIS_URL is not set: without Redis, `qbsync serve` runs jobs "
                                   "in-process and no worker is needed")
    from redis import Redis
    from rq import Queue

    from qbsync.service.rq_worker import QbsyncWorker

    redis = Redis.from_url(runtime.config.redis_url)
    QbsyncWorker([Queue(runtime.config.rq_queue_name, connection=redis)], connection=redis).work(burst=burst)


@main.command("scheduler")
def scheduler_command() -> None:
    """Run periodic work (webhook re-dispatch, stale sessions, missed-webhook sweep) until stopped."""
    import threading

    from qbsync.service import scheduler

    runtime = _runtime()
    stop = threading.Event()
    try:
        scheduler.run_forever(runtime, stop)
    except KeyboardInterrupt:
        stop.set()


@main.group("db")
def db_group() -> None:
    """Database maintenance."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema (serve and connection add do this on their own)."""
    runtime = _runtime(upgrade=True)
    click.echo(f"database up to date: {runtime.db.engine.url.render_as_string(hide_password=True)}")


# Commands that live beside what they run.
main.add_command(simulate)
main.add_command(demo)
main.add_command(push)
main.add_command(sweep)
main.add_command(user)
connection.add_command(connection_unlock)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
