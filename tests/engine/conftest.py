"""The sync engine against a simulated QuickBooks over real HTTP: the app served by waitress, the simulator's
Web Connector driving it, records fed through ``intake.record_changed``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from qbsync.qbxml.parse import parse_response
from qbsync.qbxml.render import build_message, render_request
from qbsync.qbxml.schema import validate
from qbsync.queue import intake
from qbsync.simulator.company import QuickBooksCompany
from qbsync.simulator.webconnector import SessionReport, WebConnector
from qbsync.storage.models import Connection, IdMapping, JobAttempt, QueueJob, utcnow
from qbsync.storefronts.records import Customer, Order, OrderLine, load_payload

PASSWORD = "correct horse battery"


@dataclass
class Shop:
    """One connection, its QuickBooks company and the Web Connector between them."""

    runtime: Any
    connection_id: int
    company: QuickBooksCompany
    connector: WebConnector

    def feed(self, record_type: str, record: Any, event: str = "updated") -> QueueJob | None:
        """A storefront change reaching the queue (as the webhook processing hands it over)."""
        with self.runtime.db.transaction() as session:
            connection = session.get(Connection, self.connection_id)
            return intake.record_changed(session, connection, record_type, record, event)

    def configure(self, **settings: Any) -> None:
        """Change sync settings of the connection."""
        with self.runtime.db.transaction() as session:
            connection = session.get(Connection, self.connection_id)
            connection.settings = {**(connection.settings or {}), **settings}

    def sync(self, sessions: int | None = None) -> list[SessionReport]:
        """Let the Web Connector run sessions until one finds nothing to do (or ``sessions`` of them)."""
        if sessions is not None:
            return self.connector.run(sessions=sessions)
        return self.connector.run(until_idle=True, max_sessions=50)

    def time_passes(self, minutes: int = 15) -> None:
        """The Web Connector's sessions go quiet for ``minutes``: the scheduler ends the dead ones."""
        from qbsync.qwc.sessions import expire_stale

        with self.runtime.db.transaction() as session:
            expire_stale(session, self.runtime.config, utcnow() + timedelta(minutes=minutes))

    def first_contact_done(self) -> None:
        """The company was read before (with ``list_refresh_hours=0`` nothing reads it again)."""
        with self.runtime.db.transaction() as session:
            first_contact_done(session, self.connection_id)

    def pull_is_due(self) -> None:
        """The configured minutes between inventory pulls have passed."""
        from qbsync.queue import inventory
        from qbsync.storage.models import Checkpoint

        with self.runtime.db.transaction() as session:
            row = session.get(Checkpoint, (self.connection_id, inventory.PLANNED))
            if row is not None:
                session.delete(row)

    def jobs(self, *where: Any) -> list[QueueJob]:
        with self.runtime.db.transaction() as session:
            return list(
                session.scalars(
                    select(QueueJob)
                    .where(QueueJob.connection_id == self.connection_id, *where)
                    .order_by(QueueJob.id)
                )
            )

    def attempts(self, request_type: str) -> list[JobAttempt]:
        """What qbsync sent of one request type and what QuickBooks answered, in order."""
        with self.runtime.db.transaction() as session:
            return list(
                session.scalars(
                    select(JobAttempt)
                    .where(
                        JobAttempt.connection_id == self.connection_id,
                        JobAttempt.request_type == request_type,
                    )
                    .order_by(JobAttempt.id)
                )
            )

    def mapping(self, record_type: str, storefront_id: str) -> IdMapping | None:
        with self.runtime.db.transaction() as session:
            return session.scalar(
                select(IdMapping).where(
                    IdMapping.connection_id == self.connection_id,
                    IdMapping.record_type == record_type,
                    IdMapping.storefront_id == storefront_id,
                )
            )

    def sales(self) -> list[dict[str, Any]]:
        """Every sales transaction in QuickBooks."""
        return [
            t for t in self.company.transactions() if t["kind"] in ("Invoice", "SalesReceipt", "SalesOrder")
        ]

    def in_quickbooks(self, request_type: str, data: dict[str, Any]) -> dict[str, Any]:
        """Do something in QuickBooks by hand (as a person would), bypassing qbsync; returns the Ret."""
        document = build_message([render_request(request_type, data, request_id="manual")])
        response = parse_response(self.company.process(document)).by_request_id("manual")
        assert response is not None and response.status_code == 0, response
        return response.record or {}

    def requests(self, request_type: str) -> list[str]:
        """Every request element of one type QuickBooks received (``"CustomerAddRq"``), in order."""
        from lxml import etree

        found = []
        for entry in self.company.request_log:
            root = etree.fromstring(entry.request.encode())
            found += [
                etree.tostring(e, encoding="unicode") for e in root.iterfind(f"QBXMLMsgsRq/{request_type}")
            ]
        return found

    def assert_every_request_valid(self) -> int:
        """Every qbXML document the company received validates against the XSD; returns how many."""
        for entry in self.company.request_log:
            validate(entry.request, "13.0")
        return len(self.company.request_log)


def first_contact_done(session: Any, connection_id: int) -> None:
    """Record that the connection's first contact (the company and its lists read) was queued already."""
    from qbsync.queue import lists
    from qbsync.storage import checkpoints

    if lists.last_planned(session, connection_id) is None:
        checkpoints.save(session, connection_id, lists.PLANNED, utcnow().isoformat())


@pytest.fixture
def make_shop(runtime, live_server, make_connection) -> Iterator[Any]:
    """Build a :class:`Shop` whose connection takes ``overrides`` (platform, store_url, api_credentials)."""
    connectors: list[WebConnector] = []

    def factory(
        name: str = "shop",
        profile: str | None = None,
        company: QuickBooksCompany | None = None,
        **overrides: Any,
    ) -> Shop:
        """``profile`` picks the simulated company (qbsync.simulator.profiles; None = the default, retail);
        ``company`` gives one built by the test."""
        connection = make_connection(name, **overrides)
        company = company or QuickBooksCompany(profile=profile)
        connector = WebConnector(f"{live_server.url}/qbwc", connection.qbwc_username, PASSWORD, company)
        connectors.append(connector)
        return Shop(runtime, connection.id, company, connector)

    yield factory
    for connector in connectors:
        connector.close()


@pytest.fixture
def profile() -> str:
    """The simulator profile the ``shop`` fixture's company starts as. A module runs its tests on several
    with ``pytestmark = pytest.mark.parametrize("profile", ["retail", "service"])`` (a parametrize of that
    name replaces this fixture)."""
    return "retail"


@pytest.fixture
def shop(make_shop, profile: str) -> Shop:
    """One connection on a company of ``profile``."""
    return make_shop(profile=profile)


@pytest.fixture
def sample(reference_dir: Path):
    """A storefront sample payload (``woocommerce/order.json``) as parsed JSON."""

    def load(name: str) -> dict[str, Any]:
        return load_payload((reference_dir / "storefront" / name).read_bytes())

    return load


def make_order(
    number: int,
    *,
    customer: Customer | None = None,
    lines: tuple[OrderLine, ...] | None = None,
    status: str = "processing",
    paid: bool = True,
    **fields: Any,
) -> Order:
    """A plain WooCommerce-like order: one line of 2 x 9.50, 5.00 shipping, no tax."""
    from datetime import UTC, datetime

    from qbsync.storefronts.records import ShippingLine

    customer = customer or Customer(
        storefront_id=str(5000 + number % 50),
        email=f"buyer{number % 50}@example.com",
        first_name="Buyer",
        last_name=f"Number{number % 50}",
    )
    lines = lines or (
        OrderLine(
            id=f"{number}1",
            product_id="101",
            sku="MUG-RED",
            name="Red mug",
            quantity=Decimal(2),
            unit_price=Decimal("9.50"),
            subtotal=Decimal("19.00"),
            total=Decimal("19.00"),
        ),
    )
    subtotal = sum((line.subtotal for line in lines), Decimal(0))
    values: dict[str, Any] = dict(
        storefront_id=str(number),
        number=str(number),
        status=status,
        paid=paid,
        currency="USD",
        created_at=datetime(2024, 3, 1, 15, 0, tzinfo=UTC),
        modified_at=datetime(2024, 3, 1, 15, 0, tzinfo=UTC),
        customer=customer,
        lines=lines,
        shipping_lines=(ShippingLine(id="s1", title="Flat rate", amount=Decimal("5.00")),),
        subtotal=subtotal,
        shipping_total=Decimal("5.00"),
        total=subtotal + Decimal("5.00"),
        payment_method="cod",
        payment_method_title="Cash",
    )
    values.update(fields)
    return Order(**values)


def dump(value: Any) -> str:
    return json.dumps(value, indent=1, default=str)


def account_of_type(company: QuickBooksCompany, account_type: str) -> str:
    """The name of the first account of ``account_type`` (``Bank``, ``CostOfGoodsSold``...) the company's
    setup made: tests name the company's own accounts, never one profile's."""
    for seed in company.profile.seeds:
        if seed.kind == "Account" and seed.data["AccountType"] == account_type and not seed.first_use:
            return str(seed.data["Name"])
    raise LookupError(f"the {company.profile.name} company has no {account_type} account")
