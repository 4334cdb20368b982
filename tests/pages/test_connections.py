"""The connection page: .qwc download, Web Connector password, webhook URL and secrets, API credentials."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from lxml import etree
from sqlalchemy import select, text

from qbsync.passwords import verify_password
from qbsync.service.app import create_app
from qbsync.service.background import Dispatcher
from qbsync.service.pages import connections as connection_pages
from qbsync.service.runtime import Runtime
from qbsync.storage.models import Connection, QueueJob
from tests.pages.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    CONSUMER_KEY,
    CONSUMER_SECRET,
    WEBHOOK_SECRET,
    csrf_of,
    flashes,
    post,
    text_of,
)


def _reload(runtime, name="shop") -> Connection:
    with runtime.db.transaction() as session:
        return session.scalar(select(Connection).where(Connection.name == name))


def test_the_page_shows_urls_and_instructions_with_secrets_masked(signed_in, conn):
    response = signed_in.get("/connections/shop")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    page = text_of(response)
    assert "http://localhost/webhooks/woocommerce/shop" in body
    assert "WooCommerce › Settings › Advanced › Webhooks" in page
    assert "order.created" in page and "product.updated" in page
    assert "http://localhost/qbwc" in page and conn.owner_id in page
    for secret in (WEBHOOK_SECRET, CONSUMER_KEY, CONSUMER_SECRET):
        assert secret not in body
    assert "••••••••" + WEBHOOK_SECRET[-4:] in page
    assert "••••••••" + CONSUMER_KEY[-4:] in page


def test_a_shopify_connection_gets_shopify_instructions(signed_in, make_connection):
    make_connection("shopify-store", platform="shopify", store_url="https://demo.myshopify.com",
                    api_credentials={"access_token": "shpat_" + "ab12" * 8})
    response = signed_in.get("/connections/shopify-store")
    page = text_of(response)
    assert "Settings › Notifications › Webhooks" in page
    assert "orders/create" in page and "inventory_levels/update" in page and "refunds/create" in page
    assert 'value="http://localhost/webhooks/shopify/shopify-store"' in response.get_data(as_text=True)
    assert "shpat_" not in response.get_data(as_text=True)


def test_secrets_are_revealed_only_on_a_signed_in_csrf_checked_request(signed_in, conn):
    url = "/connections/shop/reveal"
    headers = {"X-CSRF-Token": csrf_of(signed_in)}
    assert signed_in.post(url, data={"field": "consumer_secret"}, headers=headers).get_json() == {
        "value": CONSUMER_SECRET}
    assert signed_in.post(url, data={"field": "qbwc_password_hash"}, headers=headers).status_code == 400
    assert signed_in.post(url, data={"field": "webhook_secret"}).status_code == 400  # no token
    assert signed_in.post(url, data={"field": "access_token"}, headers=headers).status_code == 404


def _qwc(response):
    root = etree.fromstring(response.data, etree.XMLParser(resolve_entities=False))
    return {child.tag: child.text for child in root}


def test_the_qwc_download_carries_the_connection_ids_and_is_identical_every_time(signed_in, conn):
    first = signed_in.get("/connections/shop/qwc")
    second = signed_in.get("/connections/shop/qwc")
    assert first.status_code == 200
    assert first.headers["Content-Disposition"] == 'attachment; filename="qbsync-shop.qwc"'
    assert first.data == second.data
    fields = _qwc(first)
    assert fields["OwnerID"] == conn.owner_id and fields["FileID"] == conn.file_id
    assert fields["UserName"] == "shop-qbwc"
    assert fields["AppURL"] == "http://localhost/qbwc"


def test_the_qwc_uses_the_public_url_and_the_page_warns_about_plain_http(runtime, conn):
    from qbsync.service.app import create_app

    config = dataclasses.replace(runtime.config, public_url="http://sync.example.com")
    app = create_app(runtime=Runtime(config=config, db=runtime.db, dispatcher=Dispatcher(config)))
    client = app.test_client()
    client.get("/login")
    from qbsync.passwords import hash_password
    from qbsync.storage.models import User

    with runtime.db.transaction() as session:
        session.add(User(username=ADMIN, password_hash=hash_password(ADMIN_PASSWORD)))
    post(client, "/login", {"username": ADMIN, "password": ADMIN_PASSWORD})
    assert _qwc(client.get("/connections/shop/qwc"))["AppURL"] == "http://sync.example.com/qbwc"
    page = text_of(client.get("/connections/shop"))
    assert "uses plain http on sync.example.com" in page
    assert "http://sync.example.com/webhooks/woocommerce/shop" in client.get("/connections/shop").get_data(
        as_text=True)
    dashboard = text_of(client.get("/"))
    assert "https is not configured" in dashboard


def test_the_web_connector_password_can_be_set_and_must_be_typed_twice(signed_in, conn, runtime):
    post(signed_in, "/connections/shop/password", {"password": "new password 1", "password_confirm": "other"})
    assert flashes(signed_in)[-1] == ("error", "The two passwords do not match; nothing was changed.")
    assert verify_password(_reload(runtime).qbwc_password_hash, "correct horse battery")
    signed_in.get("/connections/shop")  # consume the flash
    post(signed_in, "/connections/shop/password", {"password": "short", "password_confirm": "short"})
    assert "at least 8 characters" in flashes(signed_in)[-1][1]
    signed_in.get("/connections/shop")
    post(signed_in, "/connections/shop/password", {"password": "new password 1",
                                                   "password_confirm": "new password 1"})
    assert flashes(signed_in)[-1][0] == "ok"
    assert verify_password(_reload(runtime).qbwc_password_hash, "new password 1")


def test_rotating_the_webhook_secret_keeps_the_previous_one(signed_in, conn, runtime):
    post(signed_in, "/connections/shop/webhook-secret", {"webhook_secret": "brand-new-secret-999"})
    stored = _reload(runtime)
    assert (stored.webhook_secret, stored.previous_webhook_secret) == ("brand-new-secret-999", WEBHOOK_SECRET)
    signed_in.get("/connections/shop")
    post(signed_in, "/connections/shop/webhook-secret", {"webhook_secret": ""})
    assert "must not be empty" in flashes(signed_in)[-1][1]


def test_credentials_are_stored_encrypted_and_blank_fields_keep_the_old_value(signed_in, conn, runtime):
    post(signed_in, "/connections/shop/credentials",
         {"wc_consumer_key": "", "wc_consumer_secret": "cs_new_value"})
    assert _reload(runtime).api_credentials == {"consumer_key": CONSUMER_KEY,
                                                "consumer_secret": "cs_new_value"}
    with runtime.db.engine.connect() as raw:
        stored = raw.execute(text("SELECT api_credentials FROM connections")).scalar_one()
    assert "cs_new_value" not in stored and CONSUMER_KEY not in stored


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, {"orders": []}, ("ok", "It works. WooCommerce store")),
        (401, {"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources."},
         ("error", "The storefront refused or could not be reached:")),
    ],
)
def test_test_connection_reports_what_the_store_said(signed_in, conn, monkeypatch, status, body, expected):
    def answer(request: httpx.Request) -> httpx.Response:
        headers = {"X-WP-Total": "12", "X-WP-TotalPages": "1"}
        return httpx.Response(status, json=[] if status == 200 and "orders" in request.url.path else body,
                              headers=headers)

    monkeypatch.setattr(connection_pages, "CLIENT_OPTIONS", {"transport": httpx.MockTransport(answer),
                                                             "sleep": lambda _s: None})
    response = post(signed_in, "/connections/shop/test")
    assert response.status_code == 302
    category, message = flashes(signed_in)[-1]
    assert category == expected[0]
    assert message.startswith(expected[1]), message
    assert CONSUMER_SECRET not in message


def test_testing_the_store_keeps_the_time_zone_it_reports(signed_in, conn, runtime, monkeypatch):
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/wp-json/"):
            return httpx.Response(200, json={"name": "Shop", "timezone_string": "Europe/Berlin"})
        return httpx.Response(200, json=[], headers={"X-WP-Total": "3", "X-WP-TotalPages": "1"})

    monkeypatch.setattr(connection_pages, "CLIENT_OPTIONS", {"transport": httpx.MockTransport(answer),
                                                             "sleep": lambda _s: None})
    post(signed_in, "/connections/shop/test")

    category, message = flashes(signed_in)[-1]
    assert category == "ok" and "time zone Europe/Berlin saved as store_timezone" in message
    with runtime.db.transaction() as session:
        stored = session.scalars(select(Connection)).one()
        assert stored.settings["store_timezone"] == "Europe/Berlin"


def test_refresh_lists_queues_one_refresh_job_per_list_once(signed_in, conn, runtime):
    post(signed_in, "/connections/shop/refresh-lists")
    post(signed_in, "/connections/shop/refresh-lists")  # clicked twice: still one job per list
    with runtime.db.transaction() as session:
        jobs = session.scalars(select(QueueJob).order_by(QueueJob.id)).all()
    assert [(j.kind, j.payload, j.state) for j in jobs] == [
        ("list_refresh", {"list": name}, "pending")
        for name in ("Account", "PaymentMethod", "SalesTaxCode", "Item", "Vendor", "Class", "Customer",
                     "Host", "Preferences")] + [("company_setup", {}, "waiting")]  # checks the settings after
    assert flashes(signed_in)[-1][1].startswith("Queued a refresh of Account, PaymentMethod, SalesTaxCode")
    page = text_of(signed_in.get("/connections/shop"))
    assert "Waiting to be read: Account pending, PaymentMethod pending" in page


def test_another_connection_can_be_added_and_bad_input_is_explained(signed_in, conn, runtime):
    form = {"name": "second", "platform": "shopify", "store_url": "https://two.myshopify.com",
            "webhook_secret": "s3cr3t-two", "qbwc_username": "shop-qbwc", "qbwc_password": "pass word 2",
            "qbwc_password_confirm": "pass word 2", "shopify_access_token": "shpat_x"}
    taken = post(signed_in, "/connections/new", form)
    assert taken.status_code == 400
    assert "already used by another connection" in text_of(taken)
    created = post(signed_in, "/connections/new", dict(form, qbwc_username="second-qbwc"))
    assert created.headers["Location"].endswith("/connections/second")
    assert _reload(runtime, "second").api_credentials == {"access_token": "shpat_x"}
    assert "second" in text_of(signed_in.get("/connections"))


def test_an_unknown_connection_is_a_404(signed_in):
    response = signed_in.get("/connections/nope")
    assert response.status_code == 404
    assert "There is no connection named 'nope'." in text_of(response)


def test_a_host_header_does_not_choose_the_qwc_address_or_webhook_urls(signed_in, conn):
    # Without QBSYNC_PUBLIC_URL and with no trusted proxy, Host and X-Forwarded-Host are anyone's to set.
    headers = {"X-Forwarded-Host": "evil.example.com"}
    evil = {"HTTP_HOST": "evil.example.com"}
    signed_in.set_cookie("qbsync_session", signed_in.get_cookie("qbsync_session").value,
                         domain="evil.example.com")
    page = signed_in.get("/connections/shop", headers=headers, environ_overrides=evil)
    assert page.status_code == 200
    assert "evil.example.com" not in page.get_data(as_text=True)
    assert "http://localhost/qbwc" in text_of(page)
    qwc = signed_in.get("/connections/shop/qwc", headers=headers, environ_overrides=evil)
    assert qwc.status_code == 200
    assert "<AppURL>http://localhost/qbwc</AppURL>" in qwc.get_data(as_text=True)


def test_the_qwc_names_the_platform_properly_and_its_support_page_opens_without_signing_in(
        signed_in, conn, runtime):
    fields = _qwc(signed_in.get("/connections/shop/qwc"))
    assert fields["AppDescription"].startswith("Syncs WooCommerce store ")
    assert fields["AppSupport"] == "http://localhost/support"
    anonymous = create_app(runtime=runtime).test_client()
    response = anonymous.get("/support")  # the Web Connector opens it without a session
    assert response.status_code == 200
    page = text_of(response)
    assert "This is qbsync, the web service the QuickBooks Web Connector" in page
    assert conn.store_url not in page and "shop-qbwc" not in page  # public: it names no store or user


SHOP_FILE = r"C:\Books\Shop.QBW"
SISTER_FILE = r"C:\Books\Sister Shop.QBW"


def refused_for_another_file(runtime, conn, add_session) -> None:
    """The connection belongs to SHOP_FILE and has one link; the last update had SISTER_FILE open."""
    from qbsync.queue.company_file import refusal
    from qbsync.storage.models import IdMapping

    with runtime.db.transaction() as session:
        session.get(Connection, conn.id).company_file = SHOP_FILE
        session.add(IdMapping(connection_id=conn.id, record_type="order", storefront_id="1001",
                              qb_type="SalesReceipt", qb_id="1A-1", origin="created"))
    add_session(conn.id, state="failed", company_file=SISTER_FILE, exchanges=0,
                last_error=refusal("shop", SHOP_FILE, SISTER_FILE))


def test_another_company_file_is_named_on_the_dashboard_and_the_sync_errors_page(signed_in, conn, runtime,
                                                                                add_session):
    refused_for_another_file(runtime, conn, add_session)
    dashboard = text_of(signed_in.get("/"))
    assert (f'Nothing is synced: the last update had the company file "{SISTER_FILE}" open, but this '
            f'connection belongs to "{SHOP_FILE}".') in dashboard
    assert "The last Web Connector session failed" not in dashboard  # said once, with its fix
    errors = text_of(signed_in.get("/errors"))
    assert "Another company file is open in QuickBooks: nothing is synced" in errors
    assert f"The last update had {SISTER_FILE} open, but this connection belongs to {SHOP_FILE}" in errors


def test_the_same_file_by_another_path_keeps_every_link(signed_in, conn, runtime, add_session):
    refused_for_another_file(runtime, conn, add_session)
    page = text_of(signed_in.get("/connections/shop"))
    assert "if it is the same file, moved or opened by another path" in page
    assert "Not for a copy of the file, which holds the same records but is other books" in page
    assert signed_in.post("/connections/shop/same-file").status_code in (400, 403)
    assert _reload(runtime).company_file == SHOP_FILE

    response = post(signed_in, "/connections/shop/same-file")
    assert response.status_code == 302
    assert flashes(signed_in)[-1][1].startswith(
        f"{SISTER_FILE} is now this connection's company file, as the same file as {SHOP_FILE}: "
        "every link is kept")
    assert _reload(runtime).company_file == SISTER_FILE
    with runtime.db.transaction() as session:
        from qbsync.storage.models import IdMapping
        assert session.query(IdMapping).count() == 1
    page = text_of(signed_in.get("/connections/shop"))
    assert f"This connection belongs to the company file {SISTER_FILE}" in page
    assert "The last update had another company file open" not in page


def test_the_switch_needs_the_csrf_token_and_then_forgets_the_old_files_links(signed_in, conn, runtime,
                                                                              add_session):
    refused_for_another_file(runtime, conn, add_session)
    assert signed_in.post("/connections/shop/switch-file").status_code in (400, 403)
    assert _reload(runtime).company_file == SHOP_FILE

    response = post(signed_in, "/connections/shop/switch-file")
    assert response.status_code == 302
    assert flashes(signed_in)[-1][1].startswith(f"Switched to {SISTER_FILE}. Forgot 1 link to QuickBooks "
                                                f"records and 0 reference list entries of {SHOP_FILE}.")
    assert _reload(runtime).company_file == SISTER_FILE
    page = text_of(signed_in.get("/connections/shop"))
    assert f"This connection belongs to the company file {SISTER_FILE}" in page
    assert "The last update had another company file open" not in page
