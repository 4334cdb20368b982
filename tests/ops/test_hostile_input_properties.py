"""Property-based: arbitrary bytes and near-valid documents at every door get a clean answer.

The SOAP endpoint answers 200 or a 4xx / Client SOAP Fault, never a 500 from an unhandled exception; the
qbXML response parser returns or raises QbxmlParseError, nothing else; webhook receivers refuse unsigned
input without storing it, keep signed garbage only as "invalid", and processing never crashes on a
near-valid payload. Runs on the Flask test client; example counts are bounded.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy import func, select

from qbsync.qbxml.parse import QbxmlParseError, parse_response
from qbsync.queue.jobs import enqueue_qbxml
from qbsync.simulator.webconnector import INTUIT_NS, SOAP_NS, envelope
from qbsync.storage.models import WebhookDelivery

PASSWORD = "correct horse battery"
SECRET = "prop-webhook-secret"
FIXTURES = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
QBWC_METHODS = ["serverVersion", "clientVersion", "authenticate", "sendRequestXML", "receiveResponseXML",
                "connectionError", "getLastError", "closeConnection", "getInteractiveURL", "interactiveDone",
                "interactiveRejected"]
PARAMS = ["ticket", "strVersion", "strUserName", "strPassword", "strHCPResponse", "strCompanyFileName",
          "qbXMLCountry", "qbXMLMajorVers", "qbXMLMinorVers", "response", "hresult", "message", "wcTicket",
          "sessionID", "reason"]


class ErrorLog(logging.Handler):
    """Collects ERROR records (log.exception marks an unhandled exception caught at the edge)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def errors():
    handler = ErrorLog()
    logging.getLogger("qbsync").addHandler(handler)
    yield handler
    logging.getLogger("qbsync").removeHandler(handler)


# --- mutations of real documents -------------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, documents: list[bytes]) -> bytes:
    """A real document with a few byte-level edits: truncation, deletion, insertion, duplication."""
    data = bytearray(draw(st.sampled_from(documents)))
    for _ in range(draw(st.integers(0, 3))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        edit = draw(st.sampled_from(["truncate", "delete", "insert", "duplicate", "flip"]))
        if edit == "truncate":
            del data[at:]
        elif edit == "delete":
            del data[at:at + draw(st.integers(1, 40))]
        elif edit == "insert":
            data[at:at] = draw(st.one_of(
                st.binary(max_size=20),
                st.sampled_from([b"<", b">", b"&", b"&amp;", b"]]>", b"<![CDATA[", b'"', b"\x00", b"\xff\xfe",
                                 b"<!DOCTYPE x>", b"<x>", b"</QBXMLMsgsRs>", b'statusCode="abc"',
                                 b'requestID="1.1"', b"&#0;", b"&#x110000;"]),
                st.text(max_size=10).map(lambda t: t.encode("utf-8", "surrogatepass"))))
        elif edit == "duplicate":
            data[at:at] = data[at:at + draw(st.integers(1, 200))]
        else:
            data[at] = draw(st.integers(0, 255))
    return bytes(data)


def _qbxml_samples(reference_dir: Path) -> list[bytes]:
    samples = reference_dir / "qbxml" / "samples"
    found = sorted(p for p in samples.rglob("*.xml")
                   if "_rs" in p.name or "Rs" in p.read_text(errors="ignore"))
    assert found, f"no qbXML response samples under {samples}"
    return [p.read_bytes() for p in found]


# --- the qbXML response parser ---------------------------------------------------------------------


def _use(parsed) -> None:
    """Touch everything a caller reads, so lazily raised errors surface too."""
    for response in parsed:
        _ = (response.request_type, response.record, response.outcome, response.status_code,
             response.severity, response.message, response.iterator_id, response.ret_count)
        for ret_type in set(response.record_types):
            response.records_of(ret_type)


@settings(max_examples=300, deadline=None, suppress_health_check=FIXTURES)
@given(data=st.data())
def test_the_qbxml_parser_raises_only_its_own_error(reference_dir, data):
    samples = _qbxml_samples(reference_dir)
    document = data.draw(st.one_of(
        mutated(samples),
        st.binary(max_size=400),
        st.text(max_size=400),
        st.sampled_from(samples).map(lambda b: b.decode("utf-8", "replace")),
    ))
    try:
        parsed = parse_response(document)
    except QbxmlParseError:
        return
    _use(parsed)


# --- the Web Connector SOAP endpoint ----------------------------------------------------------------


def _soap_post(client, body: bytes, method: str = "authenticate"):
    return client.post("/qbwc", data=body, headers={"Content-Type": "text/xml; charset=utf-8",
                                                     "SOAPAction": f'"{INTUIT_NS}{method}"'})


def _assert_clean(response, errors: ErrorLog) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code == 400 or (response.status_code == 200 and b"Fault>" in response.data):
        root = etree.fromstring(response.data)
        fault = root.find(f"{{{SOAP_NS}}}Body/{{{SOAP_NS}}}Fault")
        assert fault is not None and "Client" in (fault.findtext("faultcode") or "")
    assert not errors.records, [r.getMessage() for r in errors.records]


def _valid_calls() -> list[bytes]:
    return [
        envelope("authenticate", [("strUserName", "shop-qbwc"), ("strPassword", "nope")]),
        envelope("sendRequestXML", [("ticket", "t"), ("strHCPResponse", ""), ("strCompanyFileName", "c.QBW"),
                                    ("qbXMLCountry", "US"), ("qbXMLMajorVers", 13), ("qbXMLMinorVers", 0)]),
        envelope("receiveResponseXML", [("ticket", "t"), ("response", "<QBXML/>"), ("hresult", ""),
                                        ("message", "")]),
        envelope("closeConnection", [("ticket", "t")]),
        envelope("clientVersion", [("strVersion", "2.3.0.215")]),
    ]


_param_values = st.one_of(st.none(), st.text(max_size=60), st.integers(-2**40, 2**40),
                          st.sampled_from(["", "0x80040400", "-2147220472", "NoOp", "13", "99999999999"]))


@settings(max_examples=120, deadline=None, suppress_health_check=FIXTURES)
@given(data=st.data())
def test_the_soap_endpoint_answers_anything_cleanly(client, make_connection, errors, data):
    body = data.draw(st.one_of(
        st.binary(max_size=600),
        mutated(_valid_calls()),
        st.builds(lambda method, params: envelope(method, params),
                  st.sampled_from(QBWC_METHODS),
                  st.lists(st.tuples(st.sampled_from(PARAMS), _param_values), max_size=7)),
    ))
    _assert_clean(_soap_post(client, body), errors)


@pytest.fixture
def live_ticket(client, runtime, make_connection):
    """A connection with work queued, and a way to open a session with a request in flight."""
    conn = make_connection("shop")

    def open_exchange() -> str:
        with runtime.db.transaction() as session:
            enqueue_qbxml(session, conn.id, "<CustomerQueryRq><FullName>K P</FullName></CustomerQueryRq>")
        answer = _soap_post(client, envelope("authenticate", [("strUserName", "shop-qbwc"),
                                                              ("strPassword", PASSWORD)]))
        strings = etree.fromstring(answer.data).findall(f".//{{{INTUIT_NS}}}string")
        ticket = strings[0].text
        sent = _soap_post(client, envelope("sendRequestXML", [
            ("ticket", ticket), ("strHCPResponse", ""), ("strCompanyFileName", "c.QBW"),
            ("qbXMLCountry", "US"), ("qbXMLMajorVers", 13), ("qbXMLMinorVers", 0)]), "sendRequestXML")
        assert sent.status_code == 200 and b"QBXMLMsgsRq" in sent.data, sent.data[:600]
        return ticket

    return open_exchange


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES)
@given(data=st.data())
def test_garbage_answers_from_quickbooks_are_handled_in_a_live_session(client, live_ticket, reference_dir,
                                                                      errors, data):
    # Draw first: an example hypothesis abandons mid-draw must not leave a session open.
    answer = data.draw(st.one_of(mutated(_qbxml_samples(reference_dir)), st.binary(max_size=300)))
    text = answer.decode("utf-8", "replace")
    hresult = data.draw(st.sampled_from(["", "", "0x80040400", "garbage", "-1"]))
    ticket = live_ticket()
    response = _soap_post(client, envelope("receiveResponseXML", [
        ("ticket", ticket), ("response", text), ("hresult", hresult), ("message", "")]), "receiveResponseXML")
    _assert_clean(response, errors)
    if response.status_code == 200:
        percent = etree.fromstring(response.data).findtext(f".//{{{INTUIT_NS}}}receiveResponseXMLResult")
        assert -200 <= int(percent) <= 100
    closed = _soap_post(client, envelope("closeConnection", [("ticket", ticket)]), "closeConnection")
    _assert_clean(closed, errors)


# --- webhook receivers ---------------------------------------------------------------------------------


def _deliveries(runtime) -> dict[str, int]:
    with runtime.db.transaction() as session:
        return dict(session.execute(select(WebhookDelivery.state, func.count())
                                    .group_by(WebhookDelivery.state)).all())


_header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


@settings(max_examples=120, deadline=None, suppress_health_check=FIXTURES)
@given(platform=st.sampled_from(["woocommerce", "shopify"]), body=st.binary(max_size=800),
       signature=st.one_of(st.none(), _header_text), topic=st.one_of(st.none(), _header_text))
def test_unsigned_webhooks_are_refused_and_never_stored(client, runtime, make_connection, errors, platform,
                                                        body, signature, topic):
    if not _deliveries_connection_ready(runtime):
        make_connection("woo", platform="woocommerce", webhook_secret=SECRET)
        make_connection("shop", platform="shopify", webhook_secret=SECRET,
                        store_url="https://prop-shop.myshopify.com")
    name = "woo" if platform == "woocommerce" else "shop"
    headers = {"Content-Type": "application/json"}
    woo = platform == "woocommerce"
    if signature is not None:
        headers["X-WC-Webhook-Signature" if woo else "X-Shopify-Hmac-Sha256"] = signature
    if topic is not None:
        headers["X-WC-Webhook-Topic" if woo else "X-Shopify-Topic"] = topic
    response = client.post(f"/webhooks/{platform}/{name}", data=body, headers=headers)
    if response.status_code == 200:
        assert response.json.get("message") == "ping received"  # WooCommerce's unsigned creation ping
    else:
        assert response.status_code == 401 and response.json["error"]
    kept = _deliveries(runtime)
    # Nothing unsigned is kept: refusals are only counted, one bodiless row per connection, hour and reason.
    assert set(kept) <= {"refused"} and kept.get("refused", 0) <= 2 * 2 * 2
    with runtime.db.transaction() as session:
        assert not session.scalar(select(func.count()).select_from(WebhookDelivery)
                                  .where(func.length(WebhookDelivery.body) > 0))
    assert not errors.records


def _deliveries_connection_ready(runtime) -> bool:
    from qbsync.storage.models import Connection

    with runtime.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(Connection)) == 2


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                        st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
                        st.sampled_from(["", "0", "-1", "1e400", "NaN", "abc", "2024-13-45T99:99:99",
                                         "12.345678901234567890", "null"]))
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                          st.dictionaries(st.text(max_size=8), inner,
                                                                          max_size=3)), max_leaves=6)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _replace(document: Any, path: tuple, new: Any) -> None:
    target = document
    for step in path[:-1]:
        target = target[step]
    if new is _DELETE and isinstance(target, dict):
        del target[path[-1]]
    else:
        target[path[-1]] = None if new is _DELETE else new


_DELETE = object()


@settings(max_examples=100, deadline=None, suppress_health_check=FIXTURES)
@given(data=st.data())
def test_signed_near_valid_payloads_are_stored_or_refused_and_never_crash_processing(
        client, runtime, make_connection, reference_dir, errors, data):
    from tests.ops.processes import shopify_delivery, woo_delivery

    if not _deliveries_connection_ready(runtime):
        make_connection("woo", platform="woocommerce", webhook_secret=SECRET)
        make_connection("shop", platform="shopify", webhook_secret=SECRET,
                        store_url="https://prop-shop.myshopify.com")
    platform = data.draw(st.sampled_from(["woocommerce", "shopify"]))
    sample = data.draw(st.sampled_from(["order.json", "customer.json"] + (
        ["product_simple.json", "product_variable.json"] if platform == "woocommerce" else ["product.json"])))
    document = json.loads((reference_dir / "storefront" / platform / sample).read_text())
    paths = _paths(document)
    for _ in range(data.draw(st.integers(1, 4))):
        path = data.draw(st.sampled_from(paths))
        try:
            _replace(document, path, data.draw(st.one_of(_json_values(), st.just(_DELETE))))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed the parent
    kind = sample.split("_")[0].removesuffix(".json")
    nonce = data.draw(st.uuids()).hex
    if platform == "woocommerce":
        body, headers = woo_delivery(document, nonce, secret=SECRET, topic=f"{kind}.updated")
        url = "/webhooks/woocommerce/woo"
    else:
        body, headers = shopify_delivery(document, nonce, "prop-shop.myshopify.com", secret=SECRET,
                                         topic=f"{kind}s/update")
        url = "/webhooks/shopify/shop"
    response = client.post(url, data=body, headers=headers)
    assert response.status_code in (200, 400), response.get_data(as_text=True)[:300]
    runtime.dispatcher.shutdown(wait=True)  # let in-process processing finish
    with runtime.db.transaction() as session:
        stored = session.get(WebhookDelivery, response.json["delivery"])
        assert stored is not None  # a repeat of an earlier example answers with the earlier row
        if response.status_code == 400:
            assert stored.state == "invalid" and stored.error
        else:
            assert stored.state in ("processed", "stale", "duplicate", "ignored", "invalid"), stored.error
    # "failed" would mean processing hit an unexpected exception on some payload.
    states = _deliveries(runtime)
    assert states.get("failed", 0) == 0 and states.get("stored", 0) == 0, _failures(runtime)
    assert not errors.records, [r.getMessage() for r in errors.records]


def _failures(runtime) -> list[str]:
    with runtime.db.transaction() as session:
        return [f"{d.topic}: {d.error}" for d in session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.state.in_(("failed", "stored"))))]
