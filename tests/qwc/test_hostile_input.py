"""Bodies that are not what the Web Connector sends: refused with a SOAP Fault, and the server carries on."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select
from werkzeug.test import Client

from qbsync.qwc.soap import WebConnectorEndpoint, create_soap_app
from qbsync.qwc.xml_safety import UnsafeXmlError, hardened_parser, parse_untrusted
from qbsync.storage.models import AuthFailure
from tests.qwc.wire import envelope, fault_of, post

AUTH = envelope("authenticate", strUserName="shop-qbwc", strPassword="x").decode()
SOAP_HEAD = ('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
             '<authenticate xmlns="http://developer.intuit.com/">')
SOAP_TAIL = "</authenticate></soap:Body></soap:Envelope>"

XXE = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       f"{SOAP_HEAD}<strUserName>&xxe;</strUserName><strPassword>x</strPassword>{SOAP_TAIL}")
LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
                    for i in range(1, 10))
          + f"]>{SOAP_HEAD}<strUserName>&lol9;</strUserName><strPassword>x</strPassword>{SOAP_TAIL}")

MALFORMED = {
    "not xml": b"hello, this is not XML",
    "json": b'{"authenticate": {"strUserName": "a"}}',
    "truncated": AUTH[: len(AUTH) // 2].encode(),
    "wrong root": b'<authenticate xmlns="http://developer.intuit.com/"><strUserName>a</strUserName></authenticate>',
    "soap 1.2 envelope": AUTH.replace("http://schemas.xmlsoap.org/soap/envelope/",
                                      "http://www.w3.org/2003/05/soap-envelope").encode(),
    "empty body": b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/>'
                  b"</soap:Envelope>",
    "header only": b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header/>'
                   b"</soap:Envelope>",
    "unknown operation": envelope("dropTables", ticket="x"),
    "undeclared entity": f"{SOAP_HEAD}<strUserName>&nbsp;</strUserName>{SOAP_TAIL}".encode(),
    "utf-16": AUTH.replace('encoding="utf-8"', 'encoding="utf-16"').encode("utf-16"),
    "utf-7 declared": AUTH.replace('encoding="utf-8"', 'encoding="UTF-7"').encode(),
    # libxml2 only warns about an undeclared prefix; spyne then failed on "soap:Body" (a Server fault).
    "undeclared prefix": b'<m><soap:Body><authenticate x=""><strUserName>a</strUserName></authenticate>'
                         b"</soap:Body></m>",
    "not an integer": envelope("sendRequestXML", ticket="t", strHCPResponse="", strCompanyFileName="",
                               qbXMLCountry="US", qbXMLMajorVers="thirteen", qbXMLMinorVers="0"),
}


def _assert_still_serving(base_url: str) -> None:
    response = post(base_url, "serverVersion", envelope("serverVersion"))
    assert response.status_code == 200 and "qbsync" in response.text


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_requests_get_a_client_fault(live_server, name):
    response = post(live_server.url, "authenticate", MALFORMED[name])
    # A SOAP Fault travels with HTTP 500 (SOAP 1.1 section 6.2, WS-I BP R1126; QBWC's .NET client shows
    # the fault text only then); the faultcode, not the status, says the client is at fault.
    assert response.status_code == 500, response.text
    code, text = fault_of(response)
    assert code.endswith(":Client") or ":Client." in code
    assert text and "Traceback" not in response.text
    _assert_still_serving(live_server.url)


@pytest.mark.parametrize(
    "body",
    [XXE, XXE.replace("DOCTYPE", "doctype"), XXE.replace("<!DOCTYPE", "<!  DOCTYPE"), LAUGHS],
    ids=["xxe", "xxe-lowercase", "xxe-spaced", "billion-laughs"],
)
def test_entities_are_refused_before_parsing(live_server, runtime, make_quiet_connection, body):
    make_quiet_connection("shop")
    response = post(live_server.url, "authenticate", body.encode())
    assert response.status_code == 500  # a Client fault, with HTTP 500 like every SOAP Fault
    code, text = fault_of(response)
    assert "Client" in code and "DOCTYPE" in text
    passwd = Path("/etc/passwd").read_text() if Path("/etc/passwd").exists() else "root:x:0:0"
    assert passwd.splitlines()[0] not in response.text
    assert "lollollol" not in response.text
    with runtime.db.transaction() as session:
        assert session.scalars(select(AuthFailure)).all() == []  # the call never reached authenticate
    _assert_still_serving(live_server.url)


def test_the_parser_itself_never_expands_entities():
    # Second line of defence, should a DOCTYPE ever get past the byte check.
    root = etree.fromstring(XXE.encode(), hardened_parser())
    assert "root:" not in "".join(root.itertext())
    with pytest.raises(UnsafeXmlError, match="DOCTYPE"):
        parse_untrusted(XXE.encode())


def test_a_normal_envelope_parses():
    root = parse_untrusted(AUTH.encode(), "utf-8")
    assert root.tag == "{http://schemas.xmlsoap.org/soap/envelope/}Envelope"
    with pytest.raises(UnsafeXmlError, match="charset"):
        parse_untrusted(AUTH.encode(), "utf-7")


def test_oversized_bodies_are_refused_without_reading_them_into_spyne(runtime):
    endpoint = create_soap_app(runtime)
    small = WebConnectorEndpoint(endpoint.soap, max_bytes=1000)
    response = Client(small).post("/", data=b"<" + b"a" * 5000 + b"/>",
                                  headers={"Content-Type": "text/xml; charset=utf-8"})
    assert response.status_code == 413
    assert b"1000 bytes" in response.data


def test_a_bom_and_a_latin1_declaration_are_accepted(live_server):
    bom = post(live_server.url, "serverVersion", b"\xef\xbb\xbf" + envelope("serverVersion"))
    assert bom.status_code == 200, bom.text
    latin1 = envelope("clientVersion", strVersion="2.1.0.30 \u00e9").decode().replace(
        'encoding="utf-8"', 'encoding="ISO-8859-1"').encode("latin-1")
    response = post(live_server.url, "clientVersion", latin1)
    assert response.status_code == 200, response.text
