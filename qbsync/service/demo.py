"""``qbsync demo``: the whole product working on one machine, with nothing real touched.

It runs the service on the embedded default (SQLite in its own data folder, jobs in-process, waitress),
starts the storefront double (:mod:`qbsync.simulator.storefront`) as the demo connection's store, reads
the store's products in (backfill), posts sample orders to the service as signed WooCommerce webhooks
over HTTP, lets the simulated Web Connector run sessions against the simulated QuickBooks company until
nothing is left, waits for the stock write-back to the store, and reports each step in plain words. Then
it keeps serving the pages (with a page listing the simulated QuickBooks records) until Ctrl-C.
"""

from __future__ import annotations

import errno
import faulthandler
import json
import logging
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import httpx
from sqlalchemy import func, select

from qbsync.config import Config, default_data_dir
from qbsync.connections import NewConnection, add_connection
from qbsync.service.runtime import Runtime, open_runtime
from qbsync.simulator.company import QuickBooksCompany
from qbsync.simulator.demo_orders import SampleOrder, refund_records, sample_orders
from qbsync.simulator.profiles import PROFILES
from qbsync.simulator.storefront import StorefrontDouble, make_customers, make_products
from qbsync.simulator.webconnector import SessionReport, WebConnector
from qbsync.storage.models import QueueJob, WebhookDelivery
from qbsync.webhooks.signatures import sign

CONNECTION = "demo"
ADMIN = "demo-admin"
QBWC_USER = "demo"
DEFAULT_PORT = 8000
COMPANY_FILE = "simulated-quickbooks.json"
MARKER = "qbsync-demo.txt"
SALES_KINDS = ("SalesReceipt", "Invoice", "SalesOrder")
# Files a previous demo run left in its folder; removed for a fresh start (nothing else is touched).
_DEMO_FILES = ("qbsync.sqlite3", "qbsync.sqlite3-wal", "qbsync.sqlite3-shm", "qbsync.sqlite3-journal",
               COMPANY_FILE)
_WAIT_SECONDS = 60.0


class DemoError(Exception):
    """The demo cannot run; the message says why and what to do."""


@dataclass
class DemoOptions:
    """What ``qbsync demo`` was asked for."""

    data_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int | None = None
    orders: int = 6
    profile: str | None = None
    exit_when_idle: bool = False


@dataclass
class DemoResult:
    """What the demo did: the orders posted, the sessions run, what QuickBooks holds."""

    posted: list[SampleOrder] = field(default_factory=list)
    sessions: list[SessionReport] = field(default_factory=list)
    orders_in_quickbooks: int = 0


def demo_folder(data_dir: Path | None) -> Path:
    """The demo's own data folder: ``--data-dir``, else ``demo`` inside the usual data folder."""
    return data_dir if data_dir is not None else default_data_dir() / "demo"


def prepare_folder(folder: Path) -> None:
    """Make ``folder`` ready for a fresh demo: create it, or empty what an earlier demo left there.

    A folder holding anything the demo did not make is refused: the demo never deletes a person's data.
    """
    if folder.exists() and not folder.is_dir():
        raise DemoError(f"{folder} is a file; give --data-dir a folder")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / MARKER).exists():
        raise DemoError(f"{folder} already holds files that qbsync demo did not create; give --data-dir an "
                        "empty (or new) folder")
    folder.mkdir(parents=True, exist_ok=True)
    for name in _DEMO_FILES:
        (folder / name).unlink(missing_ok=True)
    (folder / MARKER).write_text("This folder belongs to `qbsync demo`; each demo run starts it afresh.\n",
                                 encoding="utf-8")


def demo_config(folder: Path) -> Config:
    """The embedded default inside ``folder``: SQLite there, jobs in-process, a key generated there."""
    return Config(database_url=f"sqlite:///{folder / 'qbsync.sqlite3'}", redis_url=None, data_dir=folder)


def pick_port(host: str, wanted: int | None, app: Any) -> tuple[Any, str | None]:
    """A waitress server for ``app`` bound to ``wanted`` (default 8000), or to a free port when the
    default is taken; and a note saying so. A port asked for explicitly that is taken is an error."""
    from waitress.server import create_server

    def bind(port: int) -> Any:
        return create_server(app, host=host, port=port, threads=8, ident="qbsync")

    try:
        return bind(wanted if wanted is not None else DEFAULT_PORT), None
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise DemoError(f"cannot listen on {host}: {exc.strerror}") from exc
        if wanted is not None:
            raise DemoError(f"port {wanted} on {host} is already in use; choose another with --port "
                            "(or leave --port out to take a free one)") from exc
    server = bind(0)
    return server, (f"port {DEFAULT_PORT} is in use (by `make serve`?), so the demo serves on port "
                    f"{server.effective_port}")


class _NotYet:
    """The WSGI app until the real one is built (the port is bound first, so a clash is found early)."""

    app: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"starting"]
        return self.app(environ, start_response)


class Demo:
    """One demo run: its folder, service, storefront double and simulated QuickBooks company."""

    def __init__(self, options: DemoOptions, echo: Callable[[str], None]) -> None:
        self.options = options
        self.echo = echo
        self.folder = demo_folder(options.data_dir)
        self.company_path = self.folder / COMPANY_FILE
        self.webhook_secret = secrets.token_urlsafe(24)
        self.qbwc_password = secrets.token_urlsafe(18)
        self.admin_password = secrets.token_urlsafe(12)
        self.double = StorefrontDouble(leak_rate=100.0)
        self.runtime: Runtime | None = None
        self.company: QuickBooksCompany | None = None
        self._server: Any = None
        self._threads: list[threading.Thread] = []
        self._scheduler_stop: threading.Event | None = None
        self.url = ""
        self._skus: dict[int, str] = {}

    # -- starting and stopping

    def start(self) -> None:
        """Prepare the folder, start the store double, the service and the simulated company."""
        prepare_folder(self.folder)
        placeholder = _NotYet()
        server, note = pick_port(self.options.host, self.options.port, placeholder)
        self._server = server
        self.url = f"http://{self.options.host}:{server.effective_port}"
        if note:
            self.echo(f"note: {note}")
        self.company = _new_company(self.company_path, self.options.profile)
        self.double.start()
        products = make_products("woocommerce")
        self._skus = {p["id"]: p.get("sku") or p["name"] for p in products}
        self.double.add_products(products, "woocommerce")
        self.double.add_customers(make_customers(500, "woocommerce"), "woocommerce")
        self.runtime = open_runtime(demo_config(self.folder))
        self._create_connection_and_admin()
        from qbsync.service import scheduler
        from qbsync.service.app import create_app
        from qbsync.service.pages import simulated

        app = create_app(runtime=self.runtime)
        simulated.register(app, self.company)
        placeholder.app = app
        thread = threading.Thread(target=server.run, name="qbsync-demo-web", daemon=True)
        thread.start()
        self._threads.append(thread)
        _thread, self._scheduler_stop = scheduler.start_thread(self.runtime)

    def stop(self) -> None:
        """Stop everything the demo started (idempotent)."""
        if self._scheduler_stop is not None:
            self._scheduler_stop.set()
        if self._server is not None:
            _close_waitress(self._server)
            for thread in self._threads:
                thread.join(timeout=5)
            self._server = None
        if self.runtime is not None:
            # Ctrl-C ends what runs, not a backlog the scheduler queued (stored; the next run picks it up).
            self.runtime.dispatcher.shutdown(wait=True, cancel_queued=True)
            self.runtime.db.dispose()
            self.runtime = None
        self.double.stop()

    def _create_connection_and_admin(self) -> None:
        from qbsync.service import people

        assert self.runtime is not None
        spec = NewConnection(
            name=CONNECTION, platform="woocommerce", store_url=self.double.base_url,
            webhook_secret=self.webhook_secret, qbwc_username=QBWC_USER, qbwc_password=self.qbwc_password,
            api_credentials={"consumer_key": self.double.consumer_key,
                             "consumer_secret": self.double.consumer_secret},
        )
        with self.runtime.db.transaction() as session:
            connection = add_connection(session, spec)
            # Read QuickBooks' stock with every session, so the write-back shows in one run.
            connection.settings = {"inventory_pull_minutes": 0}
            people.add_admin(session, ADMIN, self.admin_password)

    # -- the story

    def run(self) -> DemoResult:
        """Backfill, post the orders, sync until idle, write stock back; report each step."""
        result = DemoResult()
        self.echo(f"qbsync demo: serving on {self.url} from {self.folder}")
        ignored = [name for name in ("QBSYNC_DATABASE_URL", "QBSYNC_REDIS_URL") if os.environ.get(name)]
        if ignored:
            self.echo(f"note: the demo keeps its own SQLite database in that folder and leaves "
                      f"{' and '.join(ignored)} alone")
        self.echo("Everything here is simulated: the store is a storefront double on 127.0.0.1 and "
                  "QuickBooks is a simulated company file; no real store or QuickBooks is contacted.")
        self._backfill_products()
        result.posted = sample_orders(self.options.orders)
        refunded = [s for s in result.posted if s.order["status"] == "refunded"]
        first_time = [_as_first_placed(s) if s in refunded else s for s in result.posted]
        self._post(first_time, "order.created")
        result.sessions += self._sync()
        if refunded:
            for sample in refunded:
                self.double.add_refunds(sample.order["id"], refund_records(sample.order))
            self.echo("")
            self._post(refunded, "order.updated")
            result.sessions += self._sync(first_number=len(result.sessions) + 1)
        self._wait_for_stock_writeback()
        result.orders_in_quickbooks = self._describe_company()
        return result

    def _backfill_products(self) -> None:
        from qbsync.storefronts import backfill

        assert self.runtime is not None
        with self.runtime.db.transaction() as session:
            connection = _connection(session)
            session.expunge(connection)
        count = backfill.count_matching(self.runtime, connection, "products", {})
        run = backfill.start_push(self.runtime, connection, "products", {}, total=count, dispatch=False)
        last: list[Any] = []
        backfill.run_push(run.id, last.append)
        read = last[-1].read if last else 0
        self.echo(f"backfill: read {read} products from the store double ({count} in its catalogue)")

    def _post(self, samples: list[SampleOrder], topic: str) -> None:
        """Post each order as the store would: a signed WooCommerce webhook over HTTP."""
        endpoint = f"{self.url}/webhooks/woocommerce/{CONNECTION}"
        with httpx.Client(timeout=30.0) as client:
            for sample in samples:
                self.double.add_orders([sample.order], "woocommerce")
                body, headers = woocommerce_delivery(sample.order, topic, self.webhook_secret,
                                                     self.double.base_url)
                answer = client.post(endpoint, content=body, headers=headers)
                if answer.status_code != 200:
                    raise DemoError(f"the service refused order #{sample.number}: HTTP {answer.status_code} "
                                    f"{answer.text[:300]}")
                total = sample.order["total"]
                self.echo(f"webhook {topic}: order #{sample.number} ({sample.shows}, {total} USD, "
                          f"{sample.order['status']}) -> {answer.json().get('status')}")
        self._wait_until_processed()

    def _wait_until_processed(self) -> None:
        assert self.runtime is not None

        def pending() -> int:
            with self.runtime.db.transaction() as session:  # type: ignore[union-attr]
                return session.scalar(select(func.count()).select_from(WebhookDelivery)
                                      .where(WebhookDelivery.state == "stored")) or 0

        _wait(lambda: pending() == 0, "the webhooks to be processed")

    def _sync(self, first_number: int = 1) -> list[SessionReport]:
        from qbsync.simulator.cli import describe_session

        assert self.company is not None
        self.echo("")
        self.echo("The simulated Web Connector runs sessions until qbsync has nothing left to send:")
        with WebConnector(f"{self.url}/qbwc", QBWC_USER, self.qbwc_password, self.company,
                          noop_wait_seconds=0.2) as connector:
            reports = connector.run(until_idle=True, max_sessions=20)
        for number, report in enumerate(reports, start=first_number):
            for line in describe_session(number, report):
                self.echo(line)
        return reports

    def _wait_for_stock_writeback(self) -> None:
        from qbsync.queue.inventory import WRITEBACK_KIND

        assert self.runtime is not None

        def open_writebacks() -> int:
            with self.runtime.db.transaction() as session:  # type: ignore[union-attr]
                return session.scalar(select(func.count()).select_from(QueueJob).where(
                    QueueJob.kind == WRITEBACK_KIND, QueueJob.state.in_(("pending", "in_flight")))) or 0

        _wait(lambda: open_writebacks() == 0, "the stock write-back to the store")
        writes = self.double.stock_writes
        if writes:
            shown = ", ".join(f"{self._sku_of(w)} {w['quantity']}" for w in writes[:8])
            more = f" and {len(writes) - 8} more" if len(writes) > 8 else ""
            self.echo(f"stock written back to the store from QuickBooks: {len(writes)} products "
                      f"({shown}{more})")
        else:
            self.echo("stock written back to the store: no quantity changed")

    def _sku_of(self, write: dict[str, Any]) -> str:
        record_id = write.get("variation_id") or write.get("product_id")
        return self._skus.get(record_id, f"product {record_id}")

    def _describe_company(self) -> int:
        from qbsync.service.pages.simulated import sale_total

        assert self.company is not None
        self.company.save(self.company_path)
        self.echo("")
        self.echo(f"The simulated QuickBooks company (file: {self.company_path}):")
        counts = self.company.counts()
        self.echo("  holds " + ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items())))
        sales = sorted((t for t in self.company.transactions() if t["kind"] in SALES_KINDS),
                       key=lambda t: str(t.get("RefNumber")))
        for sale in [*sales, *self.company.transactions("CreditMemo")]:
            customer = (sale.get("CustomerRef") or {}).get("FullName", "")
            bill_to = str((sale.get("BillAddress") or {}).get("Addr1", ""))
            named = set(customer.casefold().replace(",", " ").split())
            if bill_to and not set(bill_to.casefold().split()) <= named:
                customer += f" (bill to {bill_to})"  # a guest under the shared customer: who bought
            self.echo(f"  {_KIND_WORDS[sale['kind']]} {sale.get('RefNumber')}: {customer}, "
                      f"{sale_total(sale)} USD")
        return len({s.get("RefNumber") for s in sales})

    def needs_attention(self, most: int = 3) -> list[str]:
        """The first few parked jobs of the demo connection, with QuickBooks' or qbsync's reason."""
        assert self.runtime is not None
        with self.runtime.db.transaction() as session:
            parked = session.execute(select(QueueJob.label, QueueJob.reason).where(QueueJob.state == "parked")
                                     .order_by(QueueJob.id).limit(most)).all()
        return [f"{label}: {reason}" for label, reason in parked]

    def sign_in_lines(self) -> list[str]:
        """Where the pages are and how to sign in, for the person running the demo."""
        from qbsync.service.pages.simulated import SIMULATED_PATH

        return [
            f"The pages: {self.url}/  (queue: {self.url}/queue, log: {self.url}/log, "
            f"simulated QuickBooks records: {self.url}{SIMULATED_PATH})",
            f"Sign in as {ADMIN!r} with the password {self.admin_password!r} (made for this run only; "
            "the next demo run makes a new one).",
            "Ctrl-C stops the service, the store double and the simulated QuickBooks.",
        ]


_KIND_WORDS = {"SalesReceipt": "sales receipt", "Invoice": "invoice", "SalesOrder": "sales order",
               "CreditMemo": "credit memo"}


def woocommerce_delivery(order: dict[str, Any], topic: str, secret: str,
                         source: str) -> tuple[bytes, dict[str, str]]:
    """A WooCommerce webhook delivery of ``order`` as ``WC_Webhook::deliver()`` sends it: the JSON body
    and its headers, signed with ``secret`` (base64 HMAC-SHA256 of the body)."""
    body = json.dumps(order, separators=(",", ":")).encode()
    resource, _, event = topic.partition(".")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/8.9.3 Hookshot (WordPress/6.5.4)",
        "X-WC-Webhook-Source": source.rstrip("/") + "/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-ID": "1",
        "X-WC-Webhook-Delivery-ID": secrets.token_hex(16),
        "X-WC-Webhook-Signature": sign(secret, body),
    }
    return body, headers


def _as_first_placed(sample: SampleOrder) -> SampleOrder:
    """A refunded sample as it was when placed: paid and completed, no refund yet."""
    order = {**sample.order, "status": "completed", "refunds": []}
    order["date_modified_gmt"] = order["date_completed_gmt"] or order["date_created_gmt"]
    order["date_modified"] = order["date_completed"] or order["date_created"]
    return SampleOrder(order, "paid, refunded later")


def _new_company(path: Path, profile: str | None) -> QuickBooksCompany:
    from qbsync.simulator.cli import new_company

    company = new_company(profile)
    company.path = path
    return company


def _connection(session: Any) -> Any:
    from qbsync.connections import get_connection

    return get_connection(session, CONNECTION)


def _wait(condition: Callable[[], bool], what: str, timeout: float = _WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise DemoError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def _close_waitress(server: Any) -> None:
    # Close every socket from inside waitress' own loop (closing them from this thread makes the loop trip
    # over dead file descriptors); the loop ends when its socket map is empty.
    def close_all() -> None:
        for channel in list(server._map.values()):
            channel.close()

    try:
        server.trigger.pull_trigger(close_all)
    except OSError:  # the loop has already closed its trigger
        server.close()
    server.task_dispatcher.shutdown()


# Seconds a stop may take before the demo prints every thread's stack (stopping normally takes under one).
STOP_REPORT_SECONDS = 10

# -- the command ---------------------------------------------------------------------------------------


@click.command("demo")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The demo's own data folder (default: 'demo' in the data folder), started afresh "
              "each run.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve the pages on.")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help=f"Port to serve on (default {DEFAULT_PORT}, or a free one when {DEFAULT_PORT} is taken).")
@click.option("--orders", type=click.IntRange(min=1, max=100), default=6, show_default=True,
              help="How many sample orders to post (the first six each show something different).")
@click.option("--profile", type=click.Choice(list(PROFILES)), default=None,
              help="How the simulated QuickBooks company is set up (the simulator's company profiles).")
@click.option("--exit-when-idle", is_flag=True, help="Stop once the sync is done instead of serving on.")
def demo(data_dir: Path | None, host: str, port: int | None, orders: int, profile: str | None,
         exit_when_idle: bool) -> None:
    """Show the whole sync on this machine: sample orders from a simulated store, through qbsync, into a
    simulated QuickBooks. Never touches a real store or a real QuickBooks."""
    root = logging.getLogger()
    if root.level > logging.DEBUG:  # without -v: the demo's own words, not the service's access log
        root.setLevel(logging.WARNING)
    options = DemoOptions(data_dir=data_dir, host=host, port=port, orders=orders, profile=profile,
                          exit_when_idle=exit_when_idle)
    run = Demo(options, click.echo)
    try:
        try:
            run.start()
            result = run.run()
        except (DemoError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
        missing = len(result.posted) - result.orders_in_quickbooks
        if missing > 0:
            click.echo(f"{missing} of the {len(result.posted)} orders did not reach QuickBooks; what waits "
                       f"for a person (all of it on {run.url}/errors):")
            for line in run.needs_attention():
                click.echo(f"  {line}")
        if not exit_when_idle:
            click.echo("")
            for line in run.sign_in_lines():
                click.echo(line)
        click.echo(f"demo: {result.orders_in_quickbooks} orders in the simulated QuickBooks")
        if missing > 0 and exit_when_idle:
            raise SystemExit(1)
        if not exit_when_idle:
            _serve_until_interrupted()
    finally:
        # Stopping takes under a second; should a thread ever hold it up, say where each one is, so a hung
        # Ctrl-C explains itself (stderr) instead of only waiting.
        reporting = _report_threads_if_stop_hangs()
        try:
            run.stop()
        finally:
            if reporting:
                faulthandler.cancel_dump_traceback_later()


def _report_threads_if_stop_hangs() -> bool:
    """Print every thread's stack to stderr if stopping takes over STOP_REPORT_SECONDS; False when stderr
    is no file (e.g. under click's test runner), where nothing can be printed from outside Python."""
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return False
    faulthandler.dump_traceback_later(STOP_REPORT_SECONDS, exit=False)
    return True


def _serve_until_interrupted() -> None:
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as tidily as Ctrl-C
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("\nstopping the demo: the service, the store double and the simulated QuickBooks")


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt
