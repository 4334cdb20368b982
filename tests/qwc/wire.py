"""Talking to /qbwc the way the QuickBooks Web Connector does, and reading answers against Intuit's WSDL."""

from __future__ import annotations

from pathlib import Path

import httpx
from lxml import etree

TNS = "http://developer.intuit.com/"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSD = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP11 = "http://schemas.xmlsoap.org/wsdl/soap/"

# What QBWC 2.0.0.116 sent with every call (captures/qbwc-2.0.0.116_php-soapserver_2008).
QBWC_HEADERS = {
    "User-Agent": "Mozilla/4.0 (compatible; MSIE 6.0; MS Web Services Client Protocol 2.0.50727.1433)",
    "Content-Type": "text/xml; charset=utf-8",
    "Expect": "100-continue",
}


def official_wsdl(reference_dir: Path) -> Path:
    return reference_dir / "qbwc" / "TroubleshootWebServiceFS.wsdl"


def embedded_schema(wsdl_root: etree._Element) -> etree._Element:
    """The WSDL's <schema>, re-parsed on its own so its namespace prefixes stay declared."""
    schema = wsdl_root.find(f"{{{WSDL}}}types/{{{XSD}}}schema")
    assert schema is not None
    return etree.fromstring(etree.tostring(schema))


def official_schema(reference_dir: Path) -> etree.XMLSchema:
    return etree.XMLSchema(embedded_schema(etree.parse(str(official_wsdl(reference_dir))).getroot()))


def envelope(operation: str, **params: object) -> bytes:
    """A request as QBWC writes it: default namespace on the operation, empty parameters self-closing."""
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "xsi":
                         "http://www.w3.org/2001/XMLSchema-instance", "xsd": XSD})
    body = etree.SubElement(root, f"{{{SOAP_ENV}}}Body")
    op = etree.SubElement(body, f"{{{TNS}}}{operation}", nsmap={None: TNS})
    for name, value in params.items():
        etree.SubElement(op, f"{{{TNS}}}{name}").text = None if value in (None, "") else str(value)
    return b'<?xml version="1.0" encoding="utf-8"?>' + etree.tostring(root, encoding="utf-8")


def post(base_url: str, operation: str, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    """POST ``body`` to /qbwc with QBWC's headers (quoted SOAPAction)."""
    sent = dict(QBWC_HEADERS, SOAPAction=f'"{TNS}{operation}"')
    sent.update(headers or {})
    return httpx.post(f"{base_url}/qbwc", content=body, headers=sent, timeout=30)


def call(base_url: str, operation: str, **params: object) -> etree._Element:
    """Make one call and return the ``<operation>Result`` element of a 200 answer."""
    response = post(base_url, operation, envelope(operation, **params))
    assert response.status_code == 200, response.text
    child = body_child(response.content)
    assert child.tag == f"{{{TNS}}}{operation}Response"
    result = child.find(f"{{{TNS}}}{operation}Result")
    assert result is not None
    return result


def body_child(data: bytes) -> etree._Element:
    root = etree.fromstring(data)
    assert root.tag == f"{{{SOAP_ENV}}}Envelope"
    body = root.find(f"{{{SOAP_ENV}}}Body")
    assert body is not None and len(body) == 1
    return body[0]


def fault_of(response: httpx.Response) -> tuple[str, str]:
    """(faultcode, faultstring) of a SOAP Fault answer."""
    child = body_child(response.content)
    assert child.tag == f"{{{SOAP_ENV}}}Fault", response.text
    return child.findtext("faultcode") or "", child.findtext("faultstring") or ""


def host_response(versions: list[str], company: str = "Test Shop LLC") -> str:
    """strHCPResponse as a current QuickBooks sends it on the first sendRequestXML of a session."""
    supported = "".join(f"<SupportedQBXMLVersion>{v}</SupportedQBXMLVersion>" for v in versions)
    return (
        '<?xml version="1.0" ?> <QBXML> <QBXMLMsgsRs> '
        '<HostQueryRs requestID="0" statusCode="0" statusSeverity="Info" statusMessage="Status OK"> '
        "<HostRet> "
        "<ProductName>QuickBooks Desktop Pro 2023</ProductName> <MajorVersion>33</MajorVersion> "
        f"<MinorVersion>0</MinorVersion> <Country>US</Country> {supported} "
        "<IsAutomaticLogin>false</IsAutomaticLogin> <QBFileMode>SingleUser</QBFileMode> </HostRet> "
        '</HostQueryRs> <CompanyQueryRs requestID="1" statusCode="0" statusSeverity="Info" '
        f'statusMessage="Status OK"> <CompanyRet> <CompanyName>{company}</CompanyName> </CompanyRet> '
        "</CompanyQueryRs> </QBXMLMsgsRs> </QBXML> "
    )


MODERN_VERSIONS = ["1.0", "2.0", "3.0", "4.0", "5.0", "6.0", "7.0", "8.0", "10.0", "11.0", "12.0", "13.0",
                   "14.0", "15.0", "16.0"]


class WebConnector:
    """A SOAP client built from Intuit's own WSDL file (not ours), pointed at the live server."""

    def __init__(self, reference_dir: Path, base_url: str, source_address: str | None = None) -> None:
        """``source_address``: the loopback address to call from (e.g. "127.0.0.2"), so the service sees a
        Web Connector on another machine."""
        import requests
        import zeep
        from zeep.transports import Transport

        self._http = requests.Session()
        if source_address is not None:
            self._http.mount("http://", _adapter_from(source_address))
        client = zeep.Client(str(official_wsdl(reference_dir)), transport=Transport(session=self._http))
        self.service = client.create_service(f"{{{TNS}}}TroubleshootWebServiceFSSoap", f"{base_url}/qbwc")

    def disconnect(self) -> None:
        """Drop kept-alive connections so the live server can stop at once."""
        self._http.close()

    def authenticate(self, user: str, password: str) -> list[str]:
        result = self.service.authenticate(strUserName=user, strPassword=password)
        return [s or "" for s in result or []]

    def send_request(self, ticket: str, *, hcp: str = "", major: int = 16, minor: int = 0,
                     company: str = r"C:\Users\Public\Documents\Intuit\QuickBooks\Shop.qbw",
                     country: str = "US") -> str:
        return self.service.sendRequestXML(ticket=ticket, strHCPResponse=hcp, strCompanyFileName=company,
                                           qbXMLCountry=country, qbXMLMajorVers=major,
                                           qbXMLMinorVers=minor) or ""

    def receive_response(self, ticket: str, response: str = "", hresult: str = "", message: str = "") -> int:
        return self.service.receiveResponseXML(ticket=ticket, response=response, hresult=hresult,
                                               message=message)

    def last_error(self, ticket: str) -> str:
        return self.service.getLastError(ticket=ticket) or ""

    def close(self, ticket: str) -> str:
        return self.service.closeConnection(ticket=ticket) or ""

    def connection_error(self, ticket: str, hresult: str, message: str) -> str:
        return self.service.connectionError(ticket=ticket, hresult=hresult, message=message) or ""



def _adapter_from(address: str):
    """A requests adapter whose connections leave from ``address``."""
    from requests.adapters import HTTPAdapter

    class FromAddress(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            kwargs["source_address"] = (address, 0)
            return super().init_poolmanager(*args, **kwargs)

    return FromAddress()
