"""A tiny Web Connector SOAP service on 127.0.0.1 that answers from a script and records every call."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

INTUIT = "http://developer.intuit.com/"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


@dataclass
class Fault:
    """Answer a call with a SOAP Fault."""

    text: str


class Each(list):
    """Script value: one answer per call, in order."""


@dataclass
class Received:
    """One call as it arrived on the wire."""

    method: str
    headers: dict[str, str]
    body: bytes
    params: dict[str, str | None]


@dataclass
class FakeQbsync:
    """Answers per SOAPAction. A script value is an answer given every time, :class:`Each` (one answer per
    call, in order), or a function of the call's parameters. Answers: str, list[str] (ArrayOfString),
    int, or :class:`Fault`."""

    script: dict[str, Any]
    calls: list[Received] = field(default_factory=list)
    url: str = ""

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]

    def params(self, method: str) -> list[dict[str, str | None]]:
        return [c.params for c in self.calls if c.method == method]

    def _answer(self, method: str, params: dict[str, str | None]) -> Any:
        planned = self.script[method]
        if isinstance(planned, Each):
            return planned.pop(0)
        if callable(planned):
            return planned(params)
        return planned

    def wsgi(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        body = request.get_data()
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
        operation = root.find(f"{{{SOAP}}}Body")[0]
        method = etree.QName(operation).localname
        params = {etree.QName(child).localname: child.text for child in operation}
        self.calls.append(Received(method, dict(request.headers), body, params))
        answer = self._answer(method, params)
        if isinstance(answer, Fault):
            xml = (
                f'<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP}">'
                f"<SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:Server</faultcode>"
                f"<faultstring>{escape(answer.text)}</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body>"
                "</SOAP-ENV:Envelope>"
            )
            return Response(xml, status=500, content_type="text/xml; charset=utf-8")(environ, start_response)
        if isinstance(answer, list):
            inner = "".join(f"<ns1:string>{escape(v)}</ns1:string>" for v in answer)
        else:
            inner = escape(str(answer))
        xml = (
            f'<?xml version="1.0" encoding="UTF-8"?> <SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP}" '
            f'xmlns:ns1="{INTUIT}"><SOAP-ENV:Body><ns1:{method}Response><ns1:{method}Result>{inner}'
            f"</ns1:{method}Result></ns1:{method}Response></SOAP-ENV:Body></SOAP-ENV:Envelope>"
        )
        return Response(xml, content_type="text/xml; charset=utf-8")(environ, start_response)


class Served:
    """``FakeQbsync`` served over HTTP on a free loopback port."""

    def __init__(self, fake: FakeQbsync) -> None:
        self.fake = fake
        self._server = make_server("127.0.0.1", 0, fake.wsgi, threaded=True)
        fake.url = f"http://127.0.0.1:{self._server.server_port}/qbwc"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> FakeQbsync:
        self._thread.start()
        return self.fake

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
