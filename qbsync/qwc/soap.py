"""The Web Connector SOAP endpoint (spyne): document/literal wrapped, SOAP 1.1, tns developer.intuit.com.

Each method turns the call into one call of :mod:`qbsync.qwc.sessions` inside a database transaction and
formats its answer. Names of operations, parameters and results are exactly those of Intuit's WSDL
(reference: TroubleshootWebServiceFS.wsdl); QBWC does not read our WSDL but serializes by these names.

Around spyne sits a small WSGI wrapper: a plain GET (QBWC fetches the URL when an application is added)
gets a short text, an empty POST the same, oversized bodies a 413, and everything else goes to spyne,
whose XML parsing is replaced by :func:`qbsync.qwc.xml_safety.parse_untrusted`.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import io
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from lxml import etree
from spyne import Application, Array, Fault, Integer32, ServiceBase, Unicode, const, rpc
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import get_input_stream

from qbsync.config import local_base_url
from qbsync.qwc import sessions
from qbsync.qwc.xml_safety import MAX_DOCUMENT_BYTES, UnsafeXmlError, parse_untrusted
from qbsync.service.logging_setup import CLIENT_FAULT_KEY, cap
from qbsync.service.runtime import Runtime

log = logging.getLogger(__name__)

TNS = "http://developer.intuit.com/"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSDL_SOAP11 = "http://schemas.xmlsoap.org/wsdl/soap/"

PLAIN_ANSWER = (
    "qbsync: QuickBooks Web Connector endpoint. Add it to the Web Connector with the .qwc file from the "
    "qbsync admin pages; the WSDL is at ?wsdl.\n"
)

T = TypeVar("T")

# spyne ends a call with a full gc.collect() at most once a second (to close uploaded files early; the Web
# Connector uploads none). In a web process holding a few hundred MB that was ~90 ms added to one call a
# second, 8 % of the process's samples in a 3,000-order drain (py-spy); Python's own collector still runs.
const.MIN_GC_INTERVAL = float("inf")

# What the Web Connector reports about an error (hresult, message) is kept up to this size: its real
# messages are a sentence, and a 5 MB one was written into several rows and log lines of one transaction.
MAX_REPORTED_CHARS = 2_000


class QbwcApplication(Application):
    """A spyne Application that carries the qbsync runtime for its methods."""

    def __init__(self, runtime: Runtime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runtime = runtime


# Python's cyclic collector waits while Web Connector calls run. A round trip makes a few hundred
# thousand short-lived objects (ORM rows, parsed answers, rendered requests): with the collector on, every
# 700 of them started a collection and each tenth of those a full one walking the whole process, over and
# over within one call, though nearly all of them are freed by reference counting when the call's
# transaction ends. Paused, the collector runs after the call, on what is left. One counter for all
# threads: the collector is process-wide, so it resumes when the last running call ends.
_collector_lock = threading.Lock()
_collector_calls = 0
_collector_was_on = False


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a Web Connector call runs (see above)."""
    global _collector_calls, _collector_was_on
    with _collector_lock:
        if _collector_calls == 0:
            _collector_was_on = gc.isenabled()
            gc.disable()
        _collector_calls += 1
    try:
        yield
    finally:
        with _collector_lock:
            _collector_calls -= 1
            if _collector_calls == 0 and _collector_was_on:
                gc.enable()


def _run(ctx: Any, operation: str, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``call(session, config, *args)`` in one transaction; unexpected errors become a Server fault."""
    runtime: Runtime = ctx.app.runtime
    try:
        with _collector_paused(), runtime.db.transaction() as session:
            return call(session, runtime.config, *args, **kwargs)
    except Exception as exc:  # never leak internals to the client; the log has the traceback
        log.exception("Web Connector %s failed", operation)
        raise Fault("Server", f"qbsync could not handle {operation}; the service log has details") from exc


def _text(value: str | None) -> str:
    """Empty parameters arrive as self-closing tags (None in spyne): they mean ""."""
    return value or ""


def _reported(value: str | None) -> str:
    """An error report of the Web Connector, cut to :data:`MAX_REPORTED_CHARS` (both ends kept)."""
    return cap(_text(value), MAX_REPORTED_CHARS)


def _remote_addr(ctx: Any) -> str | None:
    env = getattr(ctx.transport, "req_env", None) or {}
    return env.get("REMOTE_ADDR")


class QBWebConnectorSvcSoap(ServiceBase):
    """The callbacks QBWC makes, named as in Intuit's WSDL."""

    @rpc(_returns=Unicode)
    def serverVersion(ctx):
        return sessions.server_version()

    @rpc(Unicode, _returns=Unicode)
    def clientVersion(ctx, strVersion):
        return sessions.client_version(_text(strVersion))

    @rpc(Unicode, Unicode, _returns=Array(Unicode, type_name="ArrayOfString"))
    def authenticate(ctx, strUserName, strPassword):
        result = _run(ctx, "authenticate", sessions.authenticate, _text(strUserName), _text(strPassword),
                      remote_addr=_remote_addr(ctx))
        return result.as_strings()

    @rpc(Unicode, Unicode, Unicode, Unicode, Integer32, Integer32, _returns=Unicode)
    def sendRequestXML(ctx, ticket, strHCPResponse, strCompanyFileName, qbXMLCountry,
                       qbXMLMajorVers, qbXMLMinorVers):
        return _run(ctx, "sendRequestXML", sessions.send_request_xml, _text(ticket), _text(strHCPResponse),
                    _text(strCompanyFileName), _text(qbXMLCountry), qbXMLMajorVers, qbXMLMinorVers)

    @rpc(Unicode, Unicode, Unicode, Unicode, _returns=Integer32)
    def receiveResponseXML(ctx, ticket, response, hresult, message):
        return _run(ctx, "receiveResponseXML", sessions.receive_response_xml, _text(ticket),
                    _text(response), _reported(hresult), _reported(message))

    @rpc(Unicode, Unicode, Unicode, _returns=Unicode)
    def connectionError(ctx, ticket, hresult, message):
        return _run(ctx, "connectionError", sessions.connection_error, _text(ticket), _reported(hresult),
                    _reported(message))

    @rpc(Unicode, _returns=Unicode)
    def getLastError(ctx, ticket):
        return _run(ctx, "getLastError", sessions.get_last_error, _text(ticket))

    @rpc(Unicode, _returns=Unicode)
    def closeConnection(ctx, ticket):
        return _run(ctx, "closeConnection", sessions.close_connection, _text(ticket))

    # Interactive mode (QBWC 2.1+). qbsync never asks for it, so these only answer harmlessly.

    @rpc(Unicode, Unicode, _returns=Unicode)
    def getInteractiveURL(ctx, wcTicket, sessionID):
        return sessions.interactive_url()

    @rpc(Unicode, _returns=Unicode)
    def interactiveDone(ctx, wcTicket):
        return "Done"

    @rpc(Unicode, Unicode, _returns=Unicode)
    def interactiveRejected(ctx, wcTicket, reason):
        return "qbsync does not use interactive mode"


class HardenedSoap11(Soap11):
    """SOAP 1.1 whose input goes through the hardened parser; every fault is answered with HTTP 500."""

    def create_in_document(self, ctx: Any, charset: str | None = None) -> None:
        chunks = ctx.in_string
        data = chunks if isinstance(chunks, bytes) else b"".join(
            c.encode("utf-8") if isinstance(c, str) else c for c in chunks
        )
        try:
            root = parse_untrusted(data, charset)
        except UnsafeXmlError as exc:
            log.info("refused a Web Connector request: %s", exc)
            raise Fault("Client.XMLSyntaxError", str(exc)) from exc
        # No SOAP-encoded multi-refs in document/literal: nothing for spyne's href resolution.
        ctx.in_document = (root, {})

    def decompose_incoming_envelope(self, ctx: Any, message: Any = Soap11.REQUEST) -> None:
        root = ctx.in_document[0]
        if root.tag != f"{{{SOAP_ENV}}}Envelope":
            raise Fault("Client.SoapError", f"the document is not a SOAP 1.1 Envelope ({root.tag})")
        body = root.find(f"{{{SOAP_ENV}}}Body")
        if body is None or len(body) == 0:
            raise Fault("Client.SoapError", "the SOAP Body is missing or empty")
        super().decompose_incoming_envelope(ctx, message)

    def fault_to_http_response_code(self, fault: Fault) -> str:
        # SOAP 1.1 section 6.2 and WS-I Basic Profile R1126: a Fault travels with HTTP 500, whoever is at
        # fault (the faultcode says that). QBWC's .NET client shows the fault text only with a 500.
        return "500 Internal Server Error"


@functools.lru_cache(maxsize=8)
def _with_intuit_soap_actions(wsdl: bytes) -> bytes:
    """spyne writes soapAction="<op>"; Intuit's WSDL (and QBWC) use "http://developer.intuit.com/<op>"."""
    root = etree.fromstring(wsdl)  # our own generated document, not outside input
    for operation in root.iter(f"{{{WSDL_SOAP11}}}operation"):
        action = operation.get("soapAction") or ""
        if action and "://" not in action:
            operation.set("soapAction", TNS + action)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _mark_client_fault(ctx: Any) -> None:
    """A Client fault goes out with HTTP 500 too; tell the access log it is the caller's mistake."""
    code = str(getattr(ctx.out_error, "faultcode", "") or "").rsplit(":", 1)[-1]
    env = getattr(ctx.transport, "req_env", None)
    if code.startswith("Client") and env is not None:
        env[CLIENT_FAULT_KEY] = True


def _fix_wsdl(ctx: Any) -> None:
    if isinstance(ctx.transport.wsdl, bytes):
        ctx.transport.wsdl = _with_intuit_soap_actions(ctx.transport.wsdl)


class WebConnectorEndpoint:
    """WSGI entry point for /qbwc: plain answers for body-less requests, spyne for SOAP."""

    def __init__(self, soap: WsgiApplication, max_bytes: int = MAX_DOCUMENT_BYTES, *,
                 trust_host: bool = True) -> None:
        self.soap = soap
        self.max_bytes = max_bytes
        # False: the WSDL's soap:address is this machine's, whatever Host header a request brings.
        self.trust_host = trust_host

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = (environ.get("REQUEST_METHOD") or "GET").upper()
        if method in ("GET", "HEAD"):
            if self.soap.is_wsdl_request(environ):
                return self._spyne(environ, start_response)
            return _plain(start_response, "200 OK", PLAIN_ANSWER, head=method == "HEAD")
        if method != "POST":
            return _plain(start_response, "405 Method Not Allowed", "qbsync: use POST for SOAP calls.\n",
                          extra=[("Allow", "GET, HEAD, POST")])
        try:
            body = get_input_stream(environ, max_content_length=self.max_bytes).read(self.max_bytes + 1)
        except RequestEntityTooLarge:
            body = None
        if body is None or len(body) > self.max_bytes:
            return _plain(start_response, "413 Request Entity Too Large",
                          f"qbsync: SOAP requests are limited to {self.max_bytes} bytes.\n")
        if not body.strip():
            # The Web Connector probes the URL without a body when an application is added.
            return _plain(start_response, "200 OK", PLAIN_ANSWER)
        # The environ is changed in place (as WSGI allows), so marks spyne leaves reach the access log.
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        if not environ.get("CONTENT_TYPE"):
            environ["CONTENT_TYPE"] = "text/xml; charset=utf-8"
        return self._spyne(environ, start_response)

    def _spyne(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not self.trust_host:
            # spyne writes the first ?wsdl request's Host into the WSDL it then serves to everyone.
            environ = dict(environ)
            environ["HTTP_HOST"] = local_base_url(environ.get("wsgi.url_scheme", "http"),
                                                  environ.get("SERVER_PORT")).split("://", 1)[1]
        try:
            return self.soap(environ, start_response)
        except Exception:  # a spyne bug must not take the worker down or leak a traceback
            log.exception("the SOAP layer failed on a %s request", environ.get("REQUEST_METHOD"))
            return _fault(start_response, "Server", "qbsync could not handle this request")


def _plain(start_response: Callable[..., Any], status: str, text: str, *, head: bool = False,
           extra: list[tuple[str, str]] | None = None) -> list[bytes]:
    data = text.encode("utf-8")
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(data))), *(extra or [])])
    return [] if head else [data]


def _fault(start_response: Callable[..., Any], code: str, text: str) -> list[bytes]:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    fault = etree.SubElement(etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body"), f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = f"soap:{code}"
    etree.SubElement(fault, "faultstring").text = text
    data = etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
    start_response("500 Internal Server Error", [("Content-Type", "text/xml; charset=utf-8"),
                                                 ("Content-Length", str(len(data)))])
    return [data]


def build_application(runtime: Runtime) -> QbwcApplication:
    """The spyne Application for the Web Connector callbacks."""
    return QbwcApplication(
        runtime,
        services=[QBWebConnectorSvcSoap],
        tns=TNS,
        name="QBWebConnectorSvc",
        in_protocol=HardenedSoap11(validator=None),
        out_protocol=HardenedSoap11(),
    )


def create_soap_app(runtime: Runtime) -> WebConnectorEndpoint:
    """The WSGI app mounted at /qbwc."""
    soap = WsgiApplication(build_application(runtime), max_content_length=MAX_DOCUMENT_BYTES)
    soap.event_manager.add_listener("wsdl", _fix_wsdl)
    soap.event_manager.add_listener("wsgi_exception", _mark_client_fault)
    if runtime.config.public_url:
        # Otherwise spyne fills in the address from the first ?wsdl request's Host header.
        soap.doc.wsdl11.build_interface_document(runtime.config.public_url.rstrip("/") + "/qbwc")
    return WebConnectorEndpoint(soap, trust_host=runtime.config.trusts_forwarded_host)
