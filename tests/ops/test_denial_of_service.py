"""One small hostile request must not stop the service (issue 16): refused fast, and /healthz answers.

Time bounds here are generous (far above the healthy figures, far below what the attacks took before);
the measured figures are in bench/ (``python -m bench --only denial_of_service``).
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from sqlalchemy import select

from qbsync.qwc.xml_safety import UnsafeXmlError, parse_untrusted
from qbsync.storage.models import AuthFailure
from tests.qwc.wire import envelope, fault_of, post

SOAP_HEAD = ('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
             '<authenticate xmlns="http://developer.intuit.com/"{attrs}>')
SOAP_TAIL = "<strUserName>shop-qbwc</strUserName><strPassword>x</strPassword></authenticate></soap:Body>" \
            "</soap:Envelope>"
# Before: 45 s inside spyne, every other request of the process waiting. Healthy: a few milliseconds.
FAST_ENOUGH_SECONDS = 5.0
MAX_TEXT_CHARS = 100_000  # the documented limit on the text of an ordinary parameter


def many_attributes(count: int) -> bytes:
    """An authenticate call whose operation element carries ``count`` attributes (1.1 MB at 100,000)."""
    attrs = "".join(f' a{i}="x"' for i in range(count))
    return (SOAP_HEAD.format(attrs=attrs) + SOAP_TAIL).encode()


def _client_fault(response: httpx.Response) -> str:
    assert response.status_code == 500, response.text[:300]  # SOAP 1.1: every fault with HTTP 500
    code, text = fault_of(response)
    assert "Client" in code, (code, text)
    return text


def test_a_request_with_100000_attributes_is_refused_in_milliseconds_and_health_answers_meanwhile(
        live_server, runtime, make_connection):
    make_connection("shop")
    body = many_attributes(100_000)
    assert len(body) > 1_000_000
    health: list[float] = []

    def poll_health() -> None:
        started = time.perf_counter()
        httpx.get(f"{live_server.url}/healthz", timeout=30)
        health.append(time.perf_counter() - started)

    started = time.perf_counter()
    poller = threading.Thread(target=poll_health)
    poller.start()
    response = post(live_server.url, "authenticate", body)
    elapsed = time.perf_counter() - started
    poller.join(timeout=60)

    text = _client_fault(response)
    assert "attributes" in text
    assert elapsed < FAST_ENOUGH_SECONDS, elapsed
    assert health and health[0] < FAST_ENOUGH_SECONDS, health
    with runtime.db.transaction() as session:
        assert session.scalars(select(AuthFailure)).all() == []  # never reached authenticate


@pytest.mark.parametrize("body, words", [
    (b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
     + b"<x>" * 200 + b"</x>" * 200 + b"</soap:Body></soap:Envelope>", "deeper"),
    (envelope("authenticate", strUserName="u", strPassword="p").replace(b"strUserName", b"u" * 20_000),
     "longer than 200 characters"),
    (envelope("clientVersion", strVersion="2" * (MAX_TEXT_CHARS + 1)), "strVersion"),
    (b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
     + b"<authenticate>" + b"<strUserName/>" * 5_000 + b"</authenticate></soap:Body></soap:Envelope>",
     "elements"),
], ids=["deep", "long-name", "long-text", "many-elements"])
def test_documents_of_a_shape_qbwc_never_sends_get_a_short_client_fault(live_server, body, words):
    started = time.perf_counter()
    response = post(live_server.url, "authenticate", body)
    assert time.perf_counter() - started < FAST_ENOUGH_SECONDS
    text = _client_fault(response)
    assert words in text and len(text) < 1_000, text[:300]


def test_the_qbxml_a_web_connector_relays_may_be_big():
    """``response`` carries a whole qbXML document as text: megabytes are fine there."""
    big = "&lt;ItemRet&gt;&lt;Name&gt;x&lt;/Name&gt;&lt;/ItemRet&gt;" * 50_000  # 2.8 MB of escaped qbXML
    body = envelope("receiveResponseXML", ticket="t", response="R", hresult="", message="").replace(
        b">R<", f">{big}<".encode())
    root = parse_untrusted(body)
    assert len("".join(root.itertext())) > 1_000_000
    with pytest.raises(UnsafeXmlError, match="message"):
        parse_untrusted(envelope("receiveResponseXML", ticket="t", response="", hresult="",
                                 message="m" * (MAX_TEXT_CHARS + 1)))
