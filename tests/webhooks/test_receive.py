"""The webhook endpoints as a storefront sees them: status codes, reasons, and what gets stored."""

from __future__ import annotations

import dataclasses
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError

from qbsync.connections import get_connection, rotate_webhook_secret
from qbsync.service.background import Dispatcher
from qbsync.service.runtime import Runtime
from qbsync.storage import encryption
from qbsync.storage.db import create_database
from tests.webhooks.conftest import SHOP_DOMAIN


def _vector(storefront_dir, platform):
    vector = json.loads((storefront_dir / platform / "webhook_signature_vector.json").read_text())
    return vector, (storefront_dir / platform / vector["body_file"]).read_bytes()


def _woo_order(storefront_dir, **changes) -> dict:
    order = json.loads((storefront_dir / "woocommerce" / "order.json").read_text())
    order.update(changes)
    return order


# -- signature vectors over real HTTP (the exact bytes on the wire) ---------------------------------


def test_woocommerce_vector_over_http(live_server, make_connection, storefront_dir, kit):
    vector, body = _vector(storefront_dir, "woocommerce")
    make_connection("wc-vector", platform="woocommerce", webhook_secret=vector["secret"])
    headers = {
        # Lower-case names, as webhook.site showed a real delivery: header lookup is case-insensitive.
        "content-type": "application/json",
        "x-wc-webhook-source": "https://shop.example.com/",
        "x-wc-webhook-topic": "order.created",
        "x-wc-webhook-resource": "order",
        "x-wc-webhook-event": "created",
        "x-wc-webhook-id": "3",
        "x-wc-webhook-delivery-id": "36e520ebabc2fa725092ff4a47acedf2",
        "x-wc-webhook-signature": vector["expected_header"]["X-WC-Webhook-Signature"],
        "user-agent": "WooCommerce/3.9.1 Hookshot (WordPress/5.3.2)",
    }
    response = httpx.post(f"{live_server.url}/webhooks/woocommerce/wc-vector", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "stored"

    (stored,) = kit.deliveries()
    assert stored.body == body  # byte for byte
    assert stored.topic == "order.created"
    assert stored.resource_type == "order" and stored.resource_id == "727"
    assert stored.resource_modified_at == datetime(2017, 3, 22, 19, 28, 8)  # date_modified_gmt
    assert stored.headers["X-WC-Webhook-Source"] == "https://shop.example.com/"
    assert stored.headers["X-WC-Webhook-Delivery-ID"] == "36e520ebabc2fa725092ff4a47acedf2"
    assert stored.headers["User-Agent"].startswith("WooCommerce/3.9.1")
    assert "X-WC-Webhook-Signature" not in stored.headers


def test_shopify_vector_over_http(live_server, make_connection, storefront_dir, kit):
    vector, body = _vector(storefront_dir, "shopify")
    make_connection("sh-vector", platform="shopify", webhook_secret=vector["secret"],
                    store_url="https://vector-shop.myshopify.com")
    headers = kit.shopify_headers(body, topic="orders/create", secret=vector["secret"],
                                  event_id="98880550-7158-44d4-b7cd-2c97c8a091b5",
                                  shop_domain="vector-shop.myshopify.com")
    assert headers["X-Shopify-Hmac-Sha256"] == vector["expected_header"]["X-Shopify-Hmac-Sha256"]
    response = httpx.post(f"{live_server.url}/webhooks/shopify/sh-vector", content=body, headers=headers)
    assert response.status_code == 200, response.text

    (stored,) = kit.deliveries()
    assert stored.body == body
    assert stored.resource_id == "450789469"
    assert stored.headers["X-Shopify-Shop-Domain"] == "vector-shop.myshopify.com"
    assert stored.headers["X-Shopify-Event-Id"] == "98880550-7158-44d4-b7cd-2c97c8a091b5"
    assert stored.headers["X-Shopify-API-Version"] == "2026-07"


@pytest.mark.parametrize("platform", ["woocommerce", "shopify"])
def test_vector_body_with_one_byte_changed_is_refused_over_http(live_server, make_connection,
                                                                 storefront_dir, kit, platform):
    vector, body = _vector(storefront_dir, platform)
    make_connection("v", platform=platform, webhook_secret=vector["secret"],
                    store_url="https://vector-shop.myshopify.com")
    (name, value), = vector["expected_header"].items()
    old, new = (b'"727"', b'"728"') if platform == "woocommerce" else (b"1001", b"1002")
    tampered = body.replace(old, new)
    assert tampered != body
    topic = {"woocommerce": ("X-WC-Webhook-Topic", "order.created"),
             "shopify": ("X-Shopify-Topic", "orders/create")}[platform]
    response = httpx.post(f"{live_server.url}/webhooks/{platform}/v", content=tampered,
                          headers={name: value, topic[0]: topic[1]})
    assert response.status_code == 401
    assert name in response.json()["error"]
    assert kit.deliveries() == []


# -- refusals: nothing stored, nothing queued ---------------------------------------------------------


def test_unsigned_delivery_is_refused(client, woo, kit):
    body = kit.compact({"id": 1})
    headers = kit.woo_headers(body)
    del headers["X-WC-Webhook-Signature"]
    response = client.post("/webhooks/woocommerce/woo", data=body, headers=headers)
    assert response.status_code == 401
    assert "missing X-WC-Webhook-Signature" in response.get_json()["error"]
    assert kit.deliveries() == [] and kit.jobs() == []


def test_delivery_signed_with_another_secret_is_refused(client, shop, kit):
    body = kit.compact({"id": 1})
    response = client.post("/webhooks/shopify/shop", data=body,
                           headers=kit.shopify_headers(body, secret="someone-elses-secret"))
    assert response.status_code == 401
    assert kit.deliveries() == []


def test_unknown_connection_or_wrong_platform_is_404(client, woo, kit):
    body = kit.compact({"id": 1})
    missing = client.post("/webhooks/woocommerce/nope", data=body, headers=kit.woo_headers(body))
    assert missing.status_code == 404 and "no connection named 'nope'" in missing.get_json()["error"]
    wrong = client.post("/webhooks/shopify/woo", data=body, headers=kit.shopify_headers(body))
    assert wrong.status_code == 404 and "/webhooks/woocommerce/woo" in wrong.get_json()["error"]
    unknown = client.post("/webhooks/magento/woo", data=body, headers=kit.woo_headers(body))
    assert unknown.status_code == 404 and "unknown platform" in unknown.get_json()["error"]
    assert kit.deliveries() == []


def test_oversized_body_is_refused_with_413(client, runtime, woo, kit):
    runtime.config = dataclasses.replace(runtime.config, max_webhook_bytes=1000)
    too_big = kit.compact({"id": 1, "note": "x" * 1000})
    response = client.post("/webhooks/woocommerce/woo", data=too_big, headers=kit.woo_headers(too_big))
    assert response.status_code == 413
    assert "1000-byte limit" in response.get_json()["error"]
    # Exactly at the limit is fine.
    at_limit = kit.compact({"id": 1}).ljust(1000)
    response = client.post("/webhooks/woocommerce/woo", data=at_limit, headers=kit.woo_headers(at_limit))
    assert response.status_code == 200
    assert len(kit.deliveries()) == 1


def test_oversized_chunked_body_without_length_is_refused(live_server, runtime, woo, kit):
    runtime.config = dataclasses.replace(runtime.config, max_webhook_bytes=1000)
    body = kit.compact({"id": 1, "note": "x" * 5000})

    def chunks():
        for start in range(0, len(body), 512):
            yield body[start:start + 512]

    response = httpx.post(f"{live_server.url}/webhooks/woocommerce/woo", content=chunks(),
                          headers=kit.woo_headers(body))
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert kit.deliveries() == []


def test_small_chunked_body_is_read_whole(live_server, woo, kit):
    body = kit.compact(_woo_order_minimal())
    response = httpx.post(f"{live_server.url}/webhooks/woocommerce/woo",
                          content=iter([body[:10], body[10:]]), headers=kit.woo_headers(body))
    assert response.status_code == 200, response.text
    assert kit.deliveries()[0].body == body


def _woo_order_minimal() -> dict:
    return {"id": 5, "date_modified_gmt": "2024-01-01T00:00:00"}


# -- signed but malformed: 400, kept for inspection ---------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<xml>not json</xml>", "not valid JSON"),
        (b'[{"id": 1}]', "expected a JSON object"),
        (b'{"number": "1001"}', "id: required field is missing"),
        (b'{"id": 1, "date_modified_gmt": "yesterday"}', "date_modified_gmt"),
        (b"\xff\xfe{", "not valid JSON"),
        # Valid ISO dates whose offset pushes them past the calendar's edge in UTC.
        (b'{"id": 1, "date_modified_gmt": "0001-01-01T00:00:00+14:00"}', "date out of range"),
        (b'{"id": 1, "date_modified_gmt": "9999-12-31T23:59:59-14:00"}', "date out of range"),
    ],
)
def test_signed_malformed_body_is_400_and_kept(client, woo, kit, body, reason):
    response = client.post("/webhooks/woocommerce/woo", data=body, headers=kit.woo_headers(body))
    assert response.status_code == 400
    assert reason in response.get_json()["error"]
    (kept,) = kit.deliveries()
    assert kept.state == "invalid" and reason in kept.error
    assert kept.body == body
    kit.finish_background()
    assert kit.jobs() == []


def test_retry_of_malformed_delivery_gets_same_400_and_is_kept_once(client, shop, kit):
    body = b"{truncated"
    headers = kit.shopify_headers(body, event_id="evt-1")
    first = client.post("/webhooks/shopify/shop", data=body, headers=headers)
    again = client.post("/webhooks/shopify/shop", data=body, headers=headers)
    assert first.status_code == again.status_code == 400
    assert again.get_json()["error"] == first.get_json()["error"]
    assert len(kit.deliveries()) == 1


def test_missing_topic_header_is_400(client, woo, kit):
    body = kit.compact({"id": 1})
    headers = kit.woo_headers(body)
    del headers["X-WC-Webhook-Topic"]
    response = client.post("/webhooks/woocommerce/woo", data=body, headers=headers)
    assert response.status_code == 400
    assert "X-WC-Webhook-Topic" in response.get_json()["error"]
    assert kit.deliveries()[0].state == "invalid"


@pytest.mark.parametrize("shop_header", ["other-shop.myshopify.com", None, ""],
                         ids=["other shop", "header removed", "header empty"])
def test_a_shopify_delivery_not_for_this_connections_shop_is_refused_and_nothing_stored(
        client, shop, make_connection, kit, shop_header):
    # Two connections share one app secret (one app installed in two shops): the signature cannot tell
    # which shop a delivery is for, and X-Shopify-Shop-Domain is not signed.
    other = make_connection("shop-d", platform="shopify", webhook_secret=kit.shopify_secret,
                            store_url="https://other-shop.myshopify.com")
    body = kit.compact({"id": 1, "updated_at": "2024-01-01T00:00:00Z"})
    headers = kit.shopify_headers(body, shop_domain="other-shop.myshopify.com")
    if shop_header is None:
        del headers["X-Shopify-Shop-Domain"]
    else:
        headers["X-Shopify-Shop-Domain"] = shop_header
    response = client.post("/webhooks/shopify/shop", data=body, headers=headers)
    assert response.status_code == 403
    reason = response.get_json()["error"]
    assert ("other-shop.myshopify.com" in reason and SHOP_DOMAIN in reason) if shop_header \
        else "missing X-Shopify-Shop-Domain" in reason
    kit.finish_background()
    assert kit.deliveries() == [] and kit.jobs() == []
    # Sent to its own shop's connection, the same delivery is stored there.
    headers["X-Shopify-Shop-Domain"] = "Other-Shop.myshopify.com"
    response = client.post("/webhooks/shopify/shop-d", data=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert [d.connection_id for d in kit.deliveries()] == [other.id]


def test_a_shopify_connection_by_the_shops_own_domain_is_refused_and_an_old_one_is_told_the_fix(
        client, runtime, make_connection, kit):
    from qbsync.connections import ConnectionSetupError, get_connection, set_store_url

    # Shopify knows a shop only by its myshopify.com address (Admin API and X-Shopify-Shop-Domain).
    with pytest.raises(ConnectionSetupError, match=r"enter https://<shop>\.myshopify\.com"):
        make_connection("custom", platform="shopify", webhook_secret=kit.shopify_secret,
                        store_url="https://www.example-shop.com")
    # One added before that check: its deliveries are refused with the fix, and nothing is stored.
    make_connection("custom", platform="shopify", webhook_secret=kit.shopify_secret,
                    store_url=f"https://{SHOP_DOMAIN}")
    with runtime.db.transaction() as session:
        get_connection(session, "custom").store_url = "https://www.example-shop.com"
    body = kit.compact({"id": 1, "updated_at": "2024-01-01T00:00:00Z"})
    response = client.post("/webhooks/shopify/custom", data=body, headers=kit.shopify_headers(body))
    assert response.status_code == 403
    reason = response.get_json()["error"]
    assert f"set the store URL to https://{SHOP_DOMAIN}" in reason
    assert "qbsync connection set-store-url" in reason
    assert kit.deliveries() == []
    # Corrected as the message says, the same delivery is stored.
    with runtime.db.transaction() as session:
        set_store_url(session, get_connection(session, "custom"), f"https://{SHOP_DOMAIN}/")
    response = client.post("/webhooks/shopify/custom", data=body, headers=kit.shopify_headers(body))
    assert response.status_code == 200, response.get_json()
    assert len(kit.deliveries()) == 1


# -- pings, topics we do not sync, duplicates, rotation -----------------------------------------------


def test_woocommerce_creation_ping_is_answered_and_nothing_stored(client, woo, kit):
    response = client.post("/webhooks/woocommerce/woo", data=b"webhook_id=3",
                           headers={"Content-Type": "application/x-www-form-urlencoded",
                                    "User-Agent": "WooCommerce/8.0.2 Hookshot (WordPress/6.3)"})
    assert response.status_code == 200
    assert kit.deliveries() == [] and kit.jobs() == []


def test_ping_shaped_body_to_shopify_needs_a_signature(client, shop, kit):
    response = client.post("/webhooks/shopify/shop", data=b"webhook_id=3")
    assert response.status_code == 401


def test_unsynced_topics_are_answered_200_and_kept_as_ignored(client, woo, shop, kit):
    coupon = kit.compact({"id": 9, "code": "TENOFF"})
    response = client.post("/webhooks/woocommerce/woo", data=coupon,
                           headers=kit.woo_headers(coupon, topic="coupon.created"))
    assert response.status_code == 200 and response.get_json()["status"] == "ignored"
    uninstalled = kit.compact({"id": 548380009})
    response = client.post("/webhooks/shopify/shop", data=uninstalled,
                           headers=kit.shopify_headers(uninstalled, topic="app/uninstalled"))
    assert response.status_code == 200 and response.get_json()["status"] == "ignored"
    assert [d.state for d in kit.deliveries()] == ["ignored", "ignored"]
    kit.finish_background()
    assert kit.jobs() == []


def test_repeated_woocommerce_delivery_is_a_duplicate(client, woo, kit, storefront_dir):
    body = kit.compact(_woo_order(storefront_dir))
    headers = kit.woo_headers(body, delivery_id="36e520ebabc2fa725092ff4a47acedf2")
    first = client.post("/webhooks/woocommerce/woo", data=body, headers=headers)
    kit.finish_background()
    queued = [(job.id, job.updated_at) for job in kit.jobs()]
    assert len(kit.jobs_for("order")) == 1
    second = client.post("/webhooks/woocommerce/woo", data=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.get_json()["status"] == "stored" and second.get_json()["status"] == "duplicate"
    kit.finish_background()
    assert len(kit.deliveries()) == 1
    assert [(job.id, job.updated_at) for job in kit.jobs()] == queued


def test_two_woocommerce_payloads_in_one_second_are_both_kept(client, woo, kit, storefront_dir):
    # X-WC-Webhook-Delivery-ID is a hash of webhook id and the second: two edits can share it.
    same_second = "36e520ebabc2fa725092ff4a47acedf2"
    for status in ("processing", "completed"):
        body = kit.compact(_woo_order(storefront_dir, status=status))
        response = client.post("/webhooks/woocommerce/woo", data=body,
                               headers=kit.woo_headers(body, delivery_id=same_second))
        assert response.get_json()["status"] == "stored"
    assert len(kit.deliveries()) == 2


def test_repeated_shopify_event_is_a_duplicate(client, shop, kit):
    body = kit.compact({"id": 207119551, "email": "bob@example.com", "updated_at": "2024-01-01T00:00:00Z"})
    # Two deliveries of one event (e.g. a retry, or two subscriptions): new Webhook-Id, same Event-Id.
    first = client.post("/webhooks/shopify/shop", data=body,
                        headers=kit.shopify_headers(body, topic="customers/update", event_id="evt-7"))
    second = client.post("/webhooks/shopify/shop", data=body,
                         headers=kit.shopify_headers(body, topic="customers/update", event_id="evt-7"))
    assert second.status_code == 200 and second.get_json()["status"] == "duplicate"
    other_topic = client.post("/webhooks/shopify/shop", data=body,
                              headers=kit.shopify_headers(body, topic="customers/create", event_id="evt-7"))
    assert first.get_json()["status"] == other_topic.get_json()["status"] == "stored"
    assert len(kit.deliveries()) == 2


def test_shopify_delivery_without_event_id_dedupes_on_webhook_id(client, shop, kit):
    body = kit.compact({"id": 5, "updated_at": "2024-01-01T00:00:00Z"})
    headers = kit.shopify_headers(body, topic="customers/update")
    del headers["X-Shopify-Event-Id"]
    statuses = [client.post("/webhooks/shopify/shop", data=body, headers=headers).get_json()["status"]
                for _ in range(2)]
    assert statuses == ["stored", "duplicate"]


def test_simultaneous_copies_of_one_delivery_are_stored_once(live_server, woo, kit, storefront_dir):
    body = kit.compact(_woo_order(storefront_dir))
    headers = kit.woo_headers(body)
    url = f"{live_server.url}/webhooks/woocommerce/woo"
    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda _: httpx.post(url, content=body, headers=headers), range(6)))
    assert [r.status_code for r in responses] == [200] * 6
    assert sorted(r.json()["status"] for r in responses) == ["duplicate"] * 5 + ["stored"]
    kit.finish_background()
    assert len(kit.deliveries()) == 1
    assert len(kit.jobs_for("order")) == 1


def test_rotated_secret_keeps_old_one_accepted(client, runtime, shop, kit):
    with runtime.db.transaction() as session:
        rotate_webhook_secret(session, get_connection(session, "shop"), "brand-new-secret")
    for secret in (kit.shopify_secret, "brand-new-secret"):
        body = kit.compact({"id": 1, "email": f"{secret}@example.com"})
        response = client.post("/webhooks/shopify/shop", data=body,
                               headers=kit.shopify_headers(body, topic="customers/update", secret=secret))
        assert response.status_code == 200, secret
    stranger = kit.compact({"id": 2})
    response = client.post("/webhooks/shopify/shop", data=stranger,
                           headers=kit.shopify_headers(stranger, secret="never-configured"))
    assert response.status_code == 401
    assert len(kit.deliveries()) == 2


# -- the database must hold the delivery before the 200 ---------------------------------------------


def test_database_unreachable_answers_503(runtime, kit):
    from qbsync.service.app import create_app

    # Nothing listens on port 1: every connection attempt fails at once.
    down = create_database("postgresql+psycopg://qbsync:secret@127.0.0.1:1/qbsync")
    app = create_app(runtime=Runtime(config=runtime.config, db=down, dispatcher=Dispatcher(runtime.config)))
    body = kit.compact({"id": 1})
    response = app.test_client().post("/webhooks/woocommerce/woo", data=body, headers=kit.woo_headers(body))
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert "database unavailable" in response.get_json()["error"]
    down.dispose()


def test_unreadable_webhook_secret_answers_503(client, config, woo, kit):
    body = kit.compact({"id": 1})
    encryption.configure(Fernet.generate_key().decode())  # as if QBSYNC_SECRET_KEY had changed
    try:
        response = client.post("/webhooks/woocommerce/woo", data=body, headers=kit.woo_headers(body))
    finally:
        encryption.configure(config.secret_key)
    assert response.status_code == 503
    assert "cannot be read" in response.get_json()["error"]
    assert kit.deliveries() == []


def test_failed_insert_answers_503_and_queues_nothing(client, runtime, woo, kit, storefront_dir):
    def refuse_insert(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO WEBHOOK_DELIVERIES"):
            raise OperationalError(statement, parameters, Exception("disk I/O error"))

    # On every engine: the receiver has its own pool of connections on PostgreSQL.
    event.listen(Engine, "before_cursor_execute", refuse_insert)
    try:
        body = kit.compact(_woo_order(storefront_dir))
        response = client.post("/webhooks/woocommerce/woo", data=body, headers=kit.woo_headers(body))
    finally:
        event.remove(Engine, "before_cursor_execute", refuse_insert)
    assert response.status_code == 503
    kit.finish_background()
    assert kit.deliveries() == [] and kit.jobs() == []


def test_shopify_inventory_level_is_keyed_by_item_and_location(client, shop, kit, storefront_dir):
    level = json.loads((storefront_dir / "shopify" / "inventory_level.json").read_text())
    body = kit.compact(level)
    response = client.post("/webhooks/shopify/shop", data=body,
                           headers=kit.shopify_headers(body, topic="inventory_levels/update"))
    assert response.status_code == 200
    (stored,) = kit.deliveries()
    assert stored.resource_type == "stock"
    assert stored.resource_id == f"{level['inventory_item_id']}@{level['location_id']}"
    assert stored.resource_modified_at == datetime(2025, 7, 2, 16, 30, 13)  # 11:30:13-05:00 in UTC


def test_a_connection_name_no_connection_can_have_is_a_plain_404(client):
    for name in ("bad%00name", "x" * 300):
        response = client.post(f"/webhooks/woocommerce/{name}", data=b"{}",
                               headers={"Content-Type": "application/json"})
        assert response.status_code == 404


# -- the hot path's connections: no ping before use, a dropped connection replaced --------------------


def _drop_webhook_connections(runtime) -> int:
    """Have PostgreSQL end the webhook path's pooled connections, as a server restart would."""
    from sqlalchemy import text

    pids = set()
    for conn in runtime.db.statement_engine.pool._pool.queue:  # idle pooled connections
        pids.add(conn.driver_connection.info.backend_pid)
    with runtime.db.engine.connect() as admin:
        for pid in pids:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    return len(pids)


def test_delivery_after_the_server_dropped_the_connection_is_stored(runtime, client, woo, kit):
    """Webhooks use connections that are not pinged before each delivery (two round trips instead of
    five). When PostgreSQL dropped one meanwhile (a restart, an idle timeout), the delivery is stored on
    a new connection: answered 200, not 503."""
    if runtime.db.is_sqlite:
        pytest.skip("PostgreSQL's server connections")
    first = kit.compact({"id": 1})
    response = client.post("/webhooks/woocommerce/woo", data=first, headers=kit.woo_headers(first))
    assert response.status_code == 200
    assert _drop_webhook_connections(runtime) >= 1

    second = kit.compact({"id": 2})
    response = client.post("/webhooks/woocommerce/woo", data=second, headers=kit.woo_headers(second))
    assert response.status_code == 200, response.text
    assert response.get_json()["status"] == "stored"
    assert sorted(d.body for d in kit.deliveries()) == sorted([first, second])


def test_each_delivery_is_committed_by_its_own_statement(runtime, client, woo, kit):
    """On PostgreSQL the receiver sends two statements and no BEGIN/COMMIT: its connections are in
    autocommit, so the driver never opens a transaction and the insert commits itself. (BEGIN, COMMIT and
    the pre-use ping were three of the five round trips a delivery used to cost.)"""
    if runtime.db.is_sqlite:
        pytest.skip("PostgreSQL's autocommit connections")
    sent: list[tuple[str, bool]] = []
    engine = runtime.db.statement_engine

    def listen(conn, cursor, statement: str, *args) -> None:
        sent.append((statement.split()[0].upper(), conn.connection.driver_connection.autocommit))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        body = kit.compact({"id": 1})
        response = client.post("/webhooks/woocommerce/woo", data=body, headers=kit.woo_headers(body))
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert response.status_code == 200
    assert sent == [("SELECT", True), ("INSERT", True)]
    assert [d.body for d in kit.deliveries()] == [body]


def test_refused_deliveries_are_counted_by_hour_and_reason_without_their_body(client, woo, kit):
    from qbsync.passwords import hash_password
    from qbsync.storage.models import User
    from tests.pages.conftest import ADMIN, ADMIN_PASSWORD, post, text_of

    body = b'{"id": 727, "billing": {"email": "secret-shopper@example.com"}}'
    for _ in range(3):
        forged = {"X-WC-Webhook-Signature": "forged", "X-WC-Webhook-Topic": "order.created"}
        response = client.post("/webhooks/woocommerce/woo", data=body, headers=forged)
        assert response.status_code == 401
    client.post("/webhooks/woocommerce/woo", data=body, headers={"X-WC-Webhook-Topic": "order.created"})
    assert kit.deliveries() == []  # nothing unsigned is kept
    refusals = kit.refusals()
    assert sorted(r.attempts for r in refusals) == [1, 3]  # one row per reason, counted
    assert all(r.body == b"" and r.headers == {} for r in refusals)
    with kit.runtime.db.transaction() as session:
        session.add(User(username=ADMIN, password_hash=hash_password(ADMIN_PASSWORD)))
    post(client, "/login", {"username": ADMIN, "password": ADMIN_PASSWORD})
    page = text_of(client.get("/deliveries"))
    assert ("refused 3 times that hour 401: X-WC-Webhook-Signature does not match the body: check the "
            "webhook secret of connection 'woo'") in page
    assert "refused 1 time that hour 401: missing X-WC-Webhook-Signature header" in page
    assert "secret-shopper" not in page
