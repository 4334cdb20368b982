"""Structured logs: JSON lines tied together by a request id, echoed in the response, no secrets."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from qbsync.service import logging_setup
from qbsync.simulator.webconnector import envelope
from qbsync.webhooks.signatures import sign

PASSWORD = "correct horse battery"
FIELDS = {"timestamp", "level", "logger", "message", "request_id", "connection", "path", "status",
          "duration_ms"}


@pytest.fixture
def client(app):
    logging_setup.install_request_id(app)  # idempotent: the app factory may already have done it
    return app.test_client()


def soap(client, method: str, headers: dict[str, str] | None = None, **params):
    body = envelope(method, list(params.items()))
    return client.post("/qbwc", data=body, headers={"Content-Type": "text/xml; charset=utf-8",
                                                     "SOAPAction": f'"http://developer.intuit.com/{method}"',
                                                     **(headers or {})}, buffered=True)


def test_every_line_of_a_request_carries_its_id_and_the_access_line_its_outcome(client, make_connection,
                                                                                log_lines):
    make_connection("shop")
    response = soap(client, "authenticate", {"X-Request-ID": "req-123.abc"}, strUserName="shop-qbwc",
                    strPassword="wrong password!")
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "req-123.abc"

    lines = log_lines()
    assert lines and all(set(line) >= FIELDS for line in lines)
    mine = [line for line in lines if line["request_id"] == "req-123.abc"]
    failed = [line for line in mine if "sign-in failed" in line["message"]]
    assert failed and failed[0]["logger"] == "qbsync.qwc.sessions" and failed[0]["path"] == "/qbwc"
    access = [line for line in mine if line["logger"] == logging_setup.ACCESS_LOGGER]
    assert len(access) == 1
    assert (access[0]["status"], access[0]["path"], access[0]["level"]) == (200, "/qbwc", "INFO")
    assert isinstance(access[0]["duration_ms"], float) and access[0]["duration_ms"] >= 0
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", access[0]["timestamp"])


def test_a_missing_or_unsafe_request_id_is_replaced_by_a_generated_one(client, log_lines):
    # buffered: the test client then closes the response as a server does, which writes the access line.
    first = client.get("/healthz", buffered=True)
    second = client.get("/healthz", headers={"X-Request-ID": "evil\" id {with} spaces" + "x" * 200},
                        buffered=True)
    ids = [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids) and ids[0] != ids[1]
    access = [line for line in log_lines() if line["logger"] == logging_setup.ACCESS_LOGGER]
    assert [line["request_id"] for line in access] == ids


def test_webhook_lines_name_the_connection(client, make_connection, log_lines):
    make_connection("shop", webhook_secret="whsec")
    body = b'{"id": 1}'
    response = client.post("/webhooks/woocommerce/shop", data=body,
                           headers={"X-WC-Webhook-Signature": sign("not-the-secret", body)}, buffered=True)
    assert response.status_code == 401
    (access,) = [line for line in log_lines() if line["logger"] == logging_setup.ACCESS_LOGGER]
    assert (access["connection"], access["status"]) == ("shop", 401)


def test_secrets_never_reach_the_log(client, make_connection, log_lines):
    make_connection("shop", webhook_secret="whsec-do-not-log")
    soap(client, "authenticate", strUserName="shop-qbwc", strPassword="hunter2-password-value")
    signed_in = soap(client, "authenticate", strUserName="shop-qbwc", strPassword=PASSWORD)
    ticket = signed_in.get_data(as_text=True)
    body = b'{"id": 5}'
    signature = sign("whsec-do-not-log", body)
    client.post("/webhooks/woocommerce/shop", data=body, headers={
        "X-WC-Webhook-Signature": signature, "Authorization": "Bearer tok-do-not-log",
        "X-Shopify-Access-Token": "shpat_0123456789abcdef0123456789abcdef"}, buffered=True)
    log = logging.getLogger("qbsync.test")
    # What careless code might log one day: all of it must come out masked.
    log.info("calling %s?consumer_key=ck_%s&consumer_secret=cs_%s", "https://s.example/wp-json/wc/v3/orders",
             "1" * 40, "2" * 40)
    log.info("headers %r", {"Authorization": "Basic dXNlcjpwYXNz", "X-WC-Webhook-Signature": signature})
    log.info("sent <strUserName>shop-qbwc</strUserName><strPassword>%s</strPassword>", PASSWORD)
    try:
        raise ValueError(f"ticket={ticket[-60:]} password: {PASSWORD}")
    except ValueError:
        log.exception("failed")

    text = "\n".join(json.dumps(line) for line in log_lines())
    tickets = re.findall(r"<(?:\w+:)?string>([A-Za-z0-9_-]{40,})</", ticket)
    for secret in ["hunter2-password-value", PASSWORD, "whsec-do-not-log", signature, "tok-do-not-log",
                   "shpat_0123456789abcdef", "1" * 40, "2" * 40, "dXNlcjpwYXNz", *tickets]:
        assert secret not in text, f"{secret!r} was logged"
    assert "consumer_key=***" in text and "<strPassword>***</strPassword>" in text
    assert "shop-qbwc" in text  # user names stay: they are what an operator searches for


def test_text_format_for_a_terminal_masks_too():
    record = logging.LogRecord("qbsync.x", logging.INFO, __file__, 1, "Authorization: Bearer abc.def", (),
                               None)
    record.request_id = "r1"
    line = logging_setup.TextFormatter().format(record)
    assert line.endswith("INFO qbsync.x: Authorization: *** [r1]")


def test_an_unknown_log_format_is_a_clear_error():
    with pytest.raises(ValueError, match="QBSYNC_LOG_FORMAT must be 'json' or 'text'"):
        logging_setup.configure(fmt="xml", stream=io.StringIO())
