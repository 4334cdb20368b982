"""What /qbwc serves besides the callbacks: its WSDL (Intuit's names), harmless answers to plain requests."""

from __future__ import annotations

import httpx
import requests
import zeep
from lxml import etree
from zeep.transports import Transport

from tests.qwc.wire import TNS, WSDL, WSDL_SOAP11, XSD, embedded_schema, official_wsdl


def _operations(wsdl_root: etree._Element) -> set[str]:
    return {op.get("name") for op in wsdl_root.iter(f"{{{WSDL}}}portType") for op in op.findall(
        f"{{{WSDL}}}operation")}


def _children(schema: etree._Element, element_name: str) -> list[str]:
    """Names of the child elements of the global element ``element_name`` (inline or named type)."""
    element = schema.find(f"{{{XSD}}}element[@name='{element_name}']")
    assert element is not None, element_name
    complex_type = element.find(f"{{{XSD}}}complexType")
    if complex_type is None:
        type_name = element.get("type").split(":")[-1]
        complex_type = schema.find(f"{{{XSD}}}complexType[@name='{type_name}']")
    return [child.get("name") for child in complex_type.iter(f"{{{XSD}}}element")]


def test_served_wsdl_has_intuits_operations_elements_and_soap_actions(live_server, reference_dir):
    response = httpx.get(f"{live_server.url}/qbwc?wsdl", timeout=30)
    assert response.status_code == 200
    ours = etree.fromstring(response.content)
    official = etree.parse(str(official_wsdl(reference_dir))).getroot()
    assert ours.get("targetNamespace") == official.get("targetNamespace") == TNS

    official_ops = _operations(official)
    assert len(official_ops) == 8
    assert official_ops <= _operations(ours)
    assert {"getInteractiveURL", "interactiveDone", "interactiveRejected"} <= _operations(ours)

    our_schema, their_schema = embedded_schema(ours), embedded_schema(official)
    assert our_schema.get("elementFormDefault") == "qualified"
    for op in official_ops:
        for name in (op, f"{op}Response"):
            assert _children(our_schema, name) == _children(their_schema, name), name
    assert _children(our_schema, "ArrayOfString") == ["string"]

    actions = {o.getparent().get("name"): o.get("soapAction")
               for o in ours.iter(f"{{{WSDL_SOAP11}}}operation")}
    assert all(actions[op] == f"{TNS}{op}" for op in official_ops)


def test_a_client_built_from_the_served_wsdl_can_call_it(live_server):
    with requests.Session() as http:
        client = zeep.Client(f"{live_server.url}/qbwc?wsdl", transport=Transport(session=http))
        assert client.service.serverVersion().startswith("qbsync ")
        assert client.service.interactiveDone(wcTicket="x") == "Done"


def test_plain_requests_get_a_harmless_answer(live_server):
    url = f"{live_server.url}/qbwc"
    for response in (httpx.get(url), httpx.get(url + "/"), httpx.post(url, content=b""),
                     httpx.post(url, content=b"", headers={"SOAPAction": f'"{TNS}authenticate"'})):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert "Web Connector" in response.text
    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b""
    put = httpx.put(url, content=b"x")
    assert put.status_code == 405
    assert "POST" in put.headers["allow"]


def _soap_address(wsdl: bytes) -> str:
    return etree.fromstring(wsdl).find(f".//{{{WSDL_SOAP11}}}address").get("location")


def test_a_host_header_does_not_choose_the_wsdl_address(live_server):
    # The first ?wsdl request used to fix the address every later client is told to call.
    first = httpx.get(f"{live_server.url}/qbwc?wsdl", headers={"Host": "evil.example.com",
                                                               "X-Forwarded-Host": "evil.example.com"})
    assert first.status_code == 200
    assert _soap_address(first.content) == f"http://localhost:{live_server.port}/qbwc"
    later = httpx.get(f"{live_server.url}/qbwc?wsdl")
    assert "evil.example.com" not in later.text


def test_behind_a_trusted_proxy_its_forwarded_host_names_the_wsdl_address(runtime):
    import dataclasses

    from qbsync.service.app import create_app
    from qbsync.service.background import Dispatcher
    from qbsync.service.runtime import Runtime

    config = dataclasses.replace(runtime.config, trusted_proxies=1)
    app = create_app(runtime=Runtime(config=config, db=runtime.db, dispatcher=Dispatcher(config)))
    answer = app.test_client().get("/qbwc?wsdl", headers={"X-Forwarded-Host": "sync.example.com",
                                                          "X-Forwarded-Proto": "https"})
    assert _soap_address(answer.data) == "https://sync.example.com/qbwc"
