"""The admin pages in a real browser (Debian's Chromium through Playwright) against the live server.

Each test leaves a screenshot in test-artifacts/screenshots/ for a person to look at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from lxml import etree
from playwright.sync_api import expect
from sqlalchemy import select

from qbsync.service import security
from qbsync.simulator.storefront import StorefrontDouble, make_orders
from qbsync.storage.models import Connection, QueueJob
from tests.conftest import REPO_ROOT
from tests.pages.conftest import ADMIN, ADMIN_PASSWORD

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """One headless Chromium for the module (CI must have it; elsewhere its absence skips)."""
    if not CHROMIUM.exists() and not os.environ.get("CI"):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); CI runs these tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, live_server):
    """A fresh browser tab (its own cookies) on the live server."""
    context = chromium.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 860},
                                   accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    # Refused sign-ins answer 401 on purpose; the browser logs that as a failed load, not a script error.
    tab.on("console", lambda message: errors.append(message.text)
           if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
    tab.on("response", lambda response: errors.append(f"{response.status} {response.url}")
           if response.status == 404 or response.status >= 500 else None)
    yield tab
    context.close()
    assert errors == [], f"the page reported errors: {errors}"


def screenshot(tab, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def sign_in(tab) -> None:
    tab.goto("/login")
    tab.fill("#username", ADMIN)
    tab.fill("#password", ADMIN_PASSWORD)
    tab.click("button:has-text('Sign in')")
    tab.wait_for_url("**/")


def test_first_run_setup_then_sign_out_and_in(page, runtime):
    page.goto("/")
    page.wait_for_url("**/setup")
    assert "open the one-time link that qbsync serve printed" in page.inner_text("main")
    with runtime.db.transaction() as session:
        link = f"/setup?token={security.issue_setup_token(session)}"
    page.goto(link)
    page.wait_for_url("**/setup")
    screenshot(page, "01-first-run-setup")
    page.fill("#username", "owner")
    page.fill("#password", "owner password 1")
    page.fill("#password_confirm", "owner password 1")
    page.fill("#name", "my-shop")
    page.select_option("#platform", "shopify")
    assert page.is_visible("#shopify_access_token") and not page.is_visible("#wc_consumer_key")
    page.select_option("#platform", "woocommerce")
    page.fill("#store_url", "https://shop.example.com")
    page.click("button[data-generate-into='#webhook_secret']")
    page.fill("#qbwc_username", "qb-user")
    page.fill("#qbwc_password", "qbwc pass 123")
    page.fill("#qbwc_password_confirm", "qbwc pass 123")
    page.click("button:has-text('Create account and connection')")
    page.wait_for_url("**/connections/my-shop")
    assert "Download the .qwc file" in page.inner_text("main")
    with runtime.db.transaction() as session:
        conn = session.scalar(select(Connection))
    assert len(conn.webhook_secret) >= 30  # the generated secret was stored

    page.click("button:has-text('Sign out')")
    page.wait_for_url("**/login")
    page.fill("#username", "owner")
    page.fill("#password", "wrong password")
    page.click("button:has-text('Sign in')")
    assert "That user name and password do not match." in page.inner_text("main")
    screenshot(page, "02-sign-in-refused")
    page.fill("#password", "owner password 1")
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/")
    assert "The Web Connector has never contacted qbsync" in page.inner_text("main")
    screenshot(page, "03-dashboard-new-install")


def test_download_the_qwc_and_reveal_the_webhook_secret(page, admin, conn):
    sign_in(page)
    page.goto("/connections/shop")
    with page.expect_download() as info:
        page.click("a.button:has-text('Download the .qwc file')")
    download = info.value
    assert download.suggested_filename == "qbsync-shop.qwc"
    root = etree.parse(download.path(), etree.XMLParser(resolve_entities=False)).getroot()
    assert root.findtext("OwnerID") == conn.owner_id and root.findtext("FileID") == conn.file_id
    assert root.findtext("AppURL").endswith("/qbwc")

    secret = page.locator("[data-secret-for='webhook_secret']")
    assert secret.inner_text().startswith("••••••••")
    page.click("button[data-reveal='webhook_secret']")
    expect(secret).to_have_text("whsec-super-secret-value-123")
    screenshot(page, "04-connection-page")
    page.click("button[data-reveal='webhook_secret']")
    expect(secret).to_have_text("••••••••-123")


@pytest.fixture
def slow_store():
    """A WooCommerce store with 30 orders that answers slowly, so a push can be watched."""
    double = StorefrontDouble()
    double.add_orders(make_orders(30, "woocommerce", start=datetime(2024, 1, 1), end=datetime(2024, 4, 1)))
    with double:
        yield double


def test_push_a_backfill_and_watch_the_progress_bar_reach_100(page, admin, make_connection, slow_store):
    make_connection("shop", store_url=slow_store.base_url,
                    api_credentials={"consumer_key": slow_store.consumer_key,
                                     "consumer_secret": slow_store.consumer_secret})
    sign_in(page)
    page.goto("/push")
    page.select_option("#p-type", "order")
    page.click("button:has-text('Count')")
    assert "30 orders match." in page.inner_text("main")
    slow_store.latency = 1.5  # the push's reads now take long enough to watch
    page.click("button[value='push']")
    page.wait_for_url("**/push/*")
    progress = page.locator("progress")
    assert page.get_attribute("[data-progress-url]", "data-finished") == "no"
    # The page's script (not a reload) moves the bar: no eval here, the page's CSP forbids it.
    expect(progress).to_have_attribute("value", "100", timeout=30_000)
    expect(page.locator("[data-state-badge]")).to_have_text("done")
    assert page.inner_text("[data-field='percent']") == "100"
    assert page.inner_text("[data-field='read']") == "30"
    screenshot(page, "05-push-finished")
    page.goto("/push")
    assert "done" in page.inner_text("table")


def test_retry_a_parked_job_from_the_queue_page(page, admin, conn, add_job, runtime):
    parked = add_job(conn.id, label="Order #1001", state="parked", last_status_code=3140,
                     reason="QuickBooks has no customer 'Jane Doe'",
                     last_message="There is an invalid reference")
    other = add_job(conn.id, label="Order #1002", state="parked", reason="QuickBooks said 3100")
    sign_in(page)
    page.goto("/queue?state=parked")
    screenshot(page, "06-queue-parked")
    page.check(f"input[name='job_id'][value='{parked.id}']")
    page.click("button[name='action'][value='retry']")
    page.wait_for_selector(".flash.ok")
    assert "1 job queued to retry now." in page.inner_text(".flash.ok")
    with runtime.db.transaction() as session:
        assert session.get(QueueJob, parked.id).state == "pending"
        assert session.get(QueueJob, other.id).state == "parked"

    page.goto(f"/queue/{other.id}")
    page.click("button:has-text('Retry now')")
    page.wait_for_selector(".flash.ok")
    with runtime.db.transaction() as session:
        assert session.get(QueueJob, other.id).state == "pending"
    screenshot(page, "07-job-retried")


def test_search_the_log_and_read_the_explained_answer(page, admin, conn, add_job, add_session, add_exchange):
    job = add_job(conn.id, label="Order #1001", state="parked")
    other = add_job(conn.id, kind="customer", record_type="customer", label="Jane Doe", state="done")
    qb_session = add_session(conn.id)
    add_exchange(qb_session, job, status_code=3140, severity="Error",
                 message='There is an invalid reference to QuickBooks Customer "Jane Doe" in the Invoice.',
                 request_xml='<?qbxml version="13.0"?><QBXML><QBXMLMsgsRq onError="continueOnError">'
                             '<InvoiceAddRq requestID="1.1"><InvoiceAdd><CustomerRef><FullName>Jane Doe'
                             '</FullName></CustomerRef></InvoiceAdd></InvoiceAddRq></QBXMLMsgsRq></QBXML>',
                 response_xml='<QBXML><QBXMLMsgsRs><InvoiceAddRs requestID="1.1" statusCode="3140" '
                              'statusSeverity="Error" statusMessage="invalid reference"/>'
                              '</QBXMLMsgsRs></QBXML>')
    add_exchange(qb_session, other, request_xml="<CustomerAddRq/>", response_xml="<ok/>", status_code=0,
                 request_type="CustomerAddRq")
    sign_in(page)
    page.goto("/log")
    page.fill("#l-status", "3140")
    page.click("button:has-text('Search')")
    page.wait_for_url("**/log?*status=3140*")
    results = page.inner_text("table")
    assert "Order #1001" in results and "Jane Doe" not in results.split("Order #1001")[0]
    assert "Fix:" in results
    screenshot(page, "08-log-search")
    page.click("text=qbXML")
    page.wait_for_url("**/log/exchanges/*")
    assert "<FullName>Jane Doe</FullName>" in page.inner_text("pre.code >> nth=0")
    screenshot(page, "09-log-exchange")


def test_the_pages_fit_a_phone(chromium, live_server, admin, conn, add_job):
    add_job(conn.id, label="Order #1001", state="parked", reason="QuickBooks said 3100")
    context = chromium.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844},
                                   is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    try:
        sign_in(tab)
        assert not tab.is_visible("#main-nav")  # folded behind the Menu button
        # Nothing sideways: the page is no wider than the phone.
        assert tab.evaluate("document.documentElement.scrollWidth") <= 390
        tab.click("#nav-toggle")
        assert tab.is_visible("#main-nav a:has-text('Queue')")
        screenshot(tab, "10-phone-dashboard-menu")
        tab.click("#main-nav a:has-text('Queue')")
        tab.wait_for_url("**/queue")
        assert tab.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(tab, "11-phone-queue")
    finally:
        context.close()


def test_auto_map_and_fix_a_bad_setting(page, admin, conn, add_record, add_list_entry, runtime):
    add_record(conn.id, "customer", "11", {"email": "jane@example.com", "first_name": "Jane",
                                           "last_name": "Doe"})
    add_record(conn.id, "customer", "12", {"email": "sam@example.com", "first_name": "Sam",
                                           "last_name": "Poe"})
    add_list_entry(conn.id, "Customer", "80000001-1", "Doe, Jane", type="Customer", Email="jane@example.com")
    add_list_entry(conn.id, "Customer", "80000002-1", "Poe, Samuel", type="Customer",
                   Email="samuel@example.com")
    sign_in(page)
    page.goto("/mappings")
    page.wait_for_url("**/mappings/shop/customer")
    assert page.locator("tr.unmapped").count() == 2
    page.click("button:has-text('Auto-map')")
    expect(page.locator(".flash.ok")).to_contain_text("1 mapped")
    assert page.locator("tr.unmapped").count() == 1
    page.fill("tr.unmapped input[list='qb-names']", "Poe, Samuel")
    page.click("button:has-text('Save changes')")
    expect(page.locator(".flash.ok")).to_have_text("1 mapping saved.")
    assert page.locator("tr.unmapped").count() == 0
    screenshot(page, "12-mappings")

    page.goto("/settings")
    page.fill("#s-batch_size", "lots")
    page.click("button:has-text('Save settings')")
    error = page.locator("#setting-batch_size .error-text")
    expect(error).to_have_text("batch_size must be a whole number, not 'lots'")
    screenshot(page, "13-settings-error", full_page=False)
    page.fill("#s-batch_size", "50")
    page.click("button:has-text('Save settings')")
    expect(page.locator(".flash.ok")).to_contain_text("Settings saved.")
    with runtime.db.transaction() as session:
        assert session.scalar(select(Connection)).settings == {"batch_size": 50}


def test_first_session_on_a_merchants_own_company_then_the_company_setup_page(page, admin, conn, runtime,
                                                                              live_server):
    """Issue 15's proof: a company whose chart matches none of qbsync's defaults; the first session reads
    it, chooses by type or creates what the settings name, and the orders land in it with no 3140; the
    setup page then shows the company, the records in use and what qbsync created."""
    from qbsync.queue import intake
    from qbsync.simulator.company import QuickBooksCompany
    from qbsync.simulator.webconnector import WebConnector
    from tests.engine.conftest import make_order
    from tests.engine.merchant_company import make_merchant_company
    from tests.engine.test_company_setup import answered_in

    company = make_merchant_company(QuickBooksCompany(profile="legacy"))
    with runtime.db.transaction() as session:
        connection = session.get(Connection, conn.id)
        for number in (1001, 1002, 1003):
            intake.record_changed(session, connection, "order", make_order(number))
    connector = WebConnector(f"{live_server.url}/qbwc", conn.qbwc_username, "correct horse battery", company)
    (first,) = connector.run(sessions=1)

    assert sorted(r["RefNumber"] for r in company.transactions("SalesReceipt")) == ["1001", "1002", "1003"]
    assert answered_in(company, 3140) == []

    sign_in(page)
    page.goto("/connections/shop")
    page.click("a:has-text('review the company setup')")
    page.wait_for_url("**/company-setup/shop")
    text = page.locator("main").inner_text()
    assert "Inventory\non" in text or "Inventory on" in text
    assert "agencies: State Board of Equalization" in text
    shipping = page.locator("select[name='choice-shipping_account']")
    expect(shipping.locator("option:checked")).to_have_text("Freight Income")
    expect(page.locator("select[name='choice-non_taxable_code'] option:checked")).to_have_text("Ex")
    created = page.locator("#created").inner_text()
    for line in ("discount_account\tSales Discounts\tcreated in QuickBooks",
                 "shipping_item\tShipping\tcreated in QuickBooks",
                 "shipping_account\tFreight Income\tchosen by type",
                 "income_account\tSales Income\tchosen by type"):
        assert line in created, created
    screenshot(page, "14-company-setup")

    page.select_option("select[name='choice-income_account']", "Freight Income")
    page.click("button:has-text('Save these choices')")
    expect(page.locator(".flash.ok")).to_contain_text("Saved.")
    expect(page.locator("select[name='choice-income_account'] option:checked")).to_have_text("Freight Income")
    expect(page.locator("#need-income_account")).to_contain_text("reviewed")


def test_the_users_page_adds_an_admin_who_then_signs_in(page, admin, chromium, live_server):
    sign_in(page)
    page.click("nav >> text=Users")
    page.wait_for_url("**/users")
    page.fill("#new_username", "bookkeeper")
    page.fill("#new_password", "bookkeeper password")
    page.fill("#new_password_confirm", "bookkeeper password")
    page.click("button:has-text('Add admin')")
    expect(page.locator("main")).to_contain_text("Added the admin 'bookkeeper'. They can sign in now.")
    expect(page.locator("table").first).to_contain_text("bookkeeper")
    screenshot(page, "10-users-page")

    other = chromium.new_context(base_url=live_server.url).new_page()
    other.goto("/login")
    other.fill("#username", "bookkeeper")
    other.fill("#password", "bookkeeper password")
    other.click("button:has-text('Sign in')")
    other.wait_for_url("**/")
    other.context.close()


def test_every_page_fits_a_375_pixel_phone(chromium, live_server, admin, conn, add_job):
    job = add_job(conn.id, label="Order #1001", state="parked", reason="QuickBooks said 3100")
    context = chromium.new_context(base_url=live_server.url, viewport={"width": 375, "height": 812},
                                   is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    too_wide = {}
    try:
        sign_in(tab)
        for path in ("/", "/queue", f"/queue/{job.id}", "/log", f"/settings/{conn.name}",
                     f"/mappings/{conn.name}/customer", f"/mappings/{conn.name}/tax",
                     f"/mappings/{conn.name}/special", "/connections", f"/connections/{conn.name}",
                     "/connections/new", "/push", "/users"):
            tab.goto(path)
            width = tab.evaluate("document.documentElement.scrollWidth")
            if width > 375:
                too_wide[path] = width
        tab.goto(f"/settings/{conn.name}")
        screenshot(tab, "12-phone-settings")
    finally:
        context.close()
    assert too_wide == {}  # nothing sideways on any page


def test_names_quickbooks_made_us_change_are_listed_with_why(page, admin, conn, runtime, live_server):
    """A name cut to QuickBooks' 41 characters with letters it cannot keep, and one taken by another
    customer: the dashboard links to them, and the mappings page says store name → QuickBooks name, why."""
    from qbsync.qbxml.render import build_message, render_request
    from qbsync.queue import intake
    from qbsync.simulator.company import QuickBooksCompany
    from qbsync.simulator.webconnector import WebConnector
    from qbsync.storefronts.records import Customer
    from tests.engine.conftest import make_order

    company = QuickBooksCompany(profile="retail")
    other_john = {"Name": "Doe, John", "Email": "other@example.com"}
    company.process(build_message([render_request("CustomerAdd", other_john, request_id="1")]))
    long_name = Customer(storefront_id="41", email="zs@example.com", first_name="Zsófia",
                         last_name="Őrsi-Kovácsházi 😀 of the Hosszúnevű Family")
    john = Customer(storefront_id="77", email="john@example.com", first_name="John", last_name="Doe")
    with runtime.db.transaction() as session:
        connection = session.get(Connection, conn.id)
        intake.record_changed(session, connection, "customer", long_name)
        intake.record_changed(session, connection, "order", make_order(1, customer=long_name))
        intake.record_changed(session, connection, "order", make_order(2, customer=john))
    WebConnector(f"{live_server.url}/qbwc", conn.qbwc_username, "correct horse battery", company).run(
        sessions=1)
    assert sorted(c["FullName"] for c in company.customers()) == [
        "Doe, John", "Doe, John (77)", "Orsi-Kovácsházi of the Hosszúnevu Family,"]

    sign_in(page)
    page.click("a[href*='show=renamed']:has-text('See which and why')")
    page.wait_for_url("**/mappings/shop/customer?show=renamed")
    expect(page.locator("select[name='show'] option:checked")).to_have_text("Renamed in QuickBooks (2)")
    rows = [text.replace("\n", " ") for text in page.locator("tbody tr").all_inner_texts()]
    assert len(rows) == 2, rows
    long_row = next(r for r in rows if "Zsófia" in r)
    assert ("Renamed in QuickBooks: “Őrsi-Kovácsházi 😀 of the Hosszúnevű Family, Zsófia” → "
            "“Orsi-Kovácsházi of the Hosszúnevu Family,”: characters changed: Ő → O, 😀 dropped, ű → u; "
            "cut to 41 characters") in long_row, long_row
    john_row = next(r for r in rows if "John" in r)
    assert ("Renamed in QuickBooks: “Doe, John” → “Doe, John (77)”: suffix (77) added because 'Doe, John' is "
            "another customer in QuickBooks (e-mail other@example.com)") in john_row, john_row
    screenshot(page, "15-renamed-in-quickbooks")


def test_switch_a_connection_to_the_company_file_quickbooks_has_open(page, admin, conn, runtime, add_session):
    from qbsync.queue.company_file import refusal
    from qbsync.storage.models import IdMapping

    shop_file, sister_file = r"C:\Books\Shop.QBW", r"C:\Books\Sister Shop.QBW"
    with runtime.db.transaction() as session:
        session.get(Connection, conn.id).company_file = shop_file
        session.add(IdMapping(connection_id=conn.id, record_type="order", storefront_id="1001",
                              qb_type="SalesReceipt", qb_id="1A-1", origin="created"))
    add_session(conn.id, state="failed", company_file=sister_file, exchanges=0,
                last_error=refusal(conn.name, shop_file, sister_file))
    sign_in(page)
    expect(page.locator(".warnings")).to_contain_text(
        f'the last update had the company file "{sister_file}" open')
    page.click("a:has-text('Company file')")
    expect(page.locator("[data-bound-file]")).to_have_text(shop_file)
    expect(page.locator("[data-other-file]")).to_contain_text(sister_file)
    screenshot(page, "21-another-company-file")
    questions: list[str] = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    page.click("button:has-text('Switch to this file')")
    page.wait_for_selector(".flash.ok")
    assert questions == [f"Switch {conn.name} to {sister_file}? This forgets 1 link to QuickBooks records "
                         "and 0 reference list entries."]
    assert "Forgot 1 link to QuickBooks records" in page.inner_text(".flash.ok")
    expect(page.locator("[data-bound-file]")).to_have_text(sister_file)
    with runtime.db.transaction() as session:
        assert session.get(Connection, conn.id).company_file == sister_file
        assert session.scalars(select(IdMapping)).all() == []


def test_the_records_qbsync_uses_for_shipping_and_tax_rates_are_listed(page, admin, conn, runtime,
                                                                       live_server):
    """An order charging a tax rate whose label is longer than QuickBooks' 31 characters: the mappings page
    lists the sales tax item made for it (label and rate → QuickBooks name, and why it was cut), the
    shipping item and the tax agency qbsync added, each saying whether qbsync created or found it."""
    from decimal import Decimal

    from qbsync.queue import intake
    from qbsync.simulator.company import QuickBooksCompany
    from qbsync.simulator.webconnector import WebConnector
    from qbsync.storefronts.records import TaxLine
    from tests.engine.conftest import make_order

    label = "California State Sales and Use Tax"
    tax = TaxLine(label=label, rate_percent=Decimal("7.25"), amount=Decimal("1.74"))
    order = make_order(1, tax_lines=(tax,), tax_total=Decimal("1.74"), total=Decimal("25.74"))
    company = QuickBooksCompany(profile="retail")
    with runtime.db.transaction() as session:
        intake.record_changed(session, session.get(Connection, conn.id), "order", order)
    WebConnector(f"{live_server.url}/qbwc", conn.qbwc_username, "correct horse battery", company).run(
        sessions=1)
    (item,) = [i for i in company.items() if i.get("TaxRate") == "7.25"]
    qb_name = item["FullName"]
    assert len(qb_name) == 31 and qb_name.startswith("California State Sal~") and qb_name.endswith(" 7.25%")

    sign_in(page)
    page.goto("/mappings/shop/customer")
    page.click("nav.tabs a:has-text('Shipping, tax and other records')")
    page.wait_for_url("**/mappings/shop/special")
    rows = [text.replace("\n", " ").replace("\t", " ") for text in page.locator("#special-records tbody tr")
            .all_inner_texts()]
    rate = next(r for r in rows if r.startswith("tax rate"))
    assert rate.startswith(f"tax rate '{label}' 7.25 % {qb_name} sales tax item"), rate
    assert (f"Renamed in QuickBooks: “{label} 7.25%” → “{qb_name}”: cut to 31 characters: the label ends in "
            "~ and a code of the whole, so rates whose labels start alike stay apart, and the rate is kept"
            ) in rate, rate
    assert rate.endswith("created by qbsync"), rate
    assert any(r.startswith("item that carries shipping lines Shipping item")
               and r.endswith("created by qbsync") for r in rows), rows
    assert any(r.startswith("tax agency the store's sales tax is owed to ") for r in rows), rows
    screenshot(page, "16-records-qbsync-uses")
    page.select_option("select[name='show']", "renamed")
    page.click("button:has-text('Show')")
    expect(page.locator("select[name='show'] option:checked")).to_have_text("Renamed in QuickBooks (1)")
    expect(page.locator("#special-records tbody tr")).to_have_count(1)
