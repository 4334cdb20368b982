"""A QuickBooks Web Connector (QBWC 2.x) that drives a served qbsync over real HTTP SOAP.

It speaks exactly what the real one puts on the wire (document/literal SOAP 1.1 envelopes built by hand,
shaped like the captures in shared/reference/qbwc/captures/qbwc-2.0.0.116_php-soapserver_2008/) and follows
the call sequence of PROTOCOL.md section 2, handing each qbXML request to a :class:`QuickBooksCompany`.

One difference from the real client: it does not send ``Expect: 100-continue`` (httpx does not wait for a
100 response), which servers must accept anyway.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import httpx
from lxml import etree

from qbsync.simulator.company import QbxmlRequestRejected, QuickBooksCompany, SimulatedCrash

INTUIT_NS = "http://developer.intuit.com/"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
USER_AGENT = "Mozilla/4.0 (compatible; MSIE 6.0; MS Web Services Client Protocol 4.0.30319.42000)"
DEFAULT_COMPANY_FILE = r"C:\Users\Public\Documents\Intuit\QuickBooks\Company Files\Simulated Store.QBW"


class SoapFault(Exception):
    """The server answered a call with a SOAP Fault."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text


class ProtocolError(Exception):
    """The server's answer is not what the Web Connector can read (HTTP error, bad XML, wrong shape)."""


@dataclass
class Call:
    """One SOAP call the Web Connector made, with a short form of what came back."""

    method: str
    result: str


@dataclass
class SessionReport:
    """What happened in one Web Connector session.

    ``ended_by`` is one of: ``closeConnection`` (the normal end), ``auth:none`` / ``auth:nvu`` /
    ``auth:busy``, ``postponed``, ``clientVersion`` (an E: or O: answer), ``connectionError``,
    ``crash`` (the company died after processing; nothing more was sent), ``soap-fault``,
    ``protocol-error``, ``round-trip-limit``.
    """

    ticket: str = ""
    auth_result: str | None = None
    server_version: str | None = None
    client_version_result: str | None = None
    calls: list[Call] = field(default_factory=list)
    round_trips: int = 0
    requests_processed: int = 0
    statuses: list[tuple[str, int, str]] = field(default_factory=list)
    hresults: list[tuple[str, str]] = field(default_factory=list)
    percent_done: list[int] = field(default_factory=list)
    last_error: str | None = None
    close_text: str | None = None
    ended_by: str = ""
    fault: str | None = None
    records_created: dict[str, int] = field(default_factory=dict)
    postpone_seconds: int | None = None
    min_run_seconds: int | None = None

    @property
    def errors(self) -> list[tuple[str, int, str]]:
        """The statuses that were warnings or errors (statusCode 500 and up)."""
        return [s for s in self.statuses if s[1] >= 500]


def envelope(method: str, params: list[tuple[str, str | int | None]]) -> bytes:
    """A SOAP 1.1 request envelope as QBWC writes it (default namespace on the operation element, empty
    parameters as self-closing tags)."""
    parts = []
    for name, value in params:
        text = "" if value is None else str(value)
        parts.append(f"<{name}>{escape(text)}</{name}>" if text else f"<{name} />")
    inner = "".join(parts)
    operation = (
        f'<{method} xmlns="{INTUIT_NS}">{inner}</{method}>' if inner else f'<{method} xmlns="{INTUIT_NS}" />'
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        f"<soap:Body>{operation}</soap:Body></soap:Envelope>"
    ).encode()


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def read_result(method: str, body: bytes) -> etree._Element | None:
    """The ``<methodResult>`` element of a SOAP response (None when the server left it out).

    Raises :class:`SoapFault` for a Fault and :class:`ProtocolError` for anything unreadable.
    """
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        raise ProtocolError(f"{method}: the answer is not XML ({exc})") from exc
    soap_body = root.find(f"{{{SOAP_NS}}}Body")
    if soap_body is None:
        raise ProtocolError(f"{method}: no SOAP 1.1 Body in the answer")
    payload = next((child for child in soap_body if isinstance(child.tag, str)), None)
    if payload is None:
        raise ProtocolError(f"{method}: empty SOAP Body")
    if payload.tag == f"{{{SOAP_NS}}}Fault":
        raise SoapFault(payload.findtext("faultcode") or "", payload.findtext("faultstring") or "")
    if payload.tag != f"{{{INTUIT_NS}}}{method}Response":
        raise ProtocolError(f"{method}: expected {{{INTUIT_NS}}}{method}Response, got {payload.tag}")
    return payload.find(f"{{{INTUIT_NS}}}{method}Result")


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class WebConnector:
    """Drives a qbsync Web Connector endpoint at ``url`` as QBWC does, with ``company`` as QuickBooks.

    ``qbxml_version`` overrides the version reported in sendRequestXML (default: the company's);
    ``owner_id``/``file_id`` are the .qwc values (the FileID is stored in the company on first contact,
    as QBWC does). ``sleep`` is how the connector waits (NoOp pauses, Auto-Run intervals).
    """

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        company: QuickBooksCompany,
        client_version: str = "2.3.0.215",
        qbxml_version: str | None = None,
        company_file_name: str = DEFAULT_COMPANY_FILE,
        country: str | None = None,
        owner_id: str | None = None,
        file_id: str | None = None,
        http_client: httpx.Client | None = None,
        timeout_seconds: float = 60.0,
        noop_wait_seconds: float = 5.0,
        max_round_trips: int = 10_000,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.username = username
        self.password = password
        self.company = company
        self.client_version = client_version
        self.qbxml_version = qbxml_version
        self.company_file_name = company_file_name
        self.country = country or company.profile.country  # what the company's QuickBooks edition says
        self.owner_id = owner_id
        self.file_id = file_id
        self.noop_wait_seconds = noop_wait_seconds
        self.max_round_trips = max_round_trips
        self.sleep = sleep
        self._client = http_client or httpx.Client(timeout=timeout_seconds)
        self._owns_client = http_client is None
        self._begin_session_failures: list[tuple[str, str]] = []

    def close(self) -> None:
        """Release the HTTP client (when this connector made it)."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> WebConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fail_begin_session(
        self, hresult: str = "0x80040408", message: str = "Could not start QuickBooks.", times: int = 1
    ) -> None:
        """Make QuickBooks fail to open for the next ``times`` attempts (the connector then calls
        connectionError, as QBWC does)."""
        self._begin_session_failures.extend([(hresult, message)] * times)

    def open_company_file(self, company: QuickBooksCompany, file_name: str) -> None:
        """The user opens another company file in QuickBooks: later sessions work with ``company`` and report
        ``file_name`` as sendRequestXML's strCompanyFileName, the file in use (PROTOCOL.md section 3)."""
        self.company = company
        self.company_file_name = file_name
        self.country = company.profile.country

    # -- transport

    def _call(self, method: str, params: list[tuple[str, str | int | None]]) -> etree._Element | None:
        headers = {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": f'"{INTUIT_NS}{method}"',
            "User-Agent": USER_AGENT,
        }
        try:
            response = self._client.post(self.url, content=envelope(method, params), headers=headers)
        except httpx.HTTPError as exc:
            raise ProtocolError(f"{method}: HTTP request failed: {exc}") from exc
        try:
            result = read_result(method, response.content)
        except ProtocolError as exc:
            if response.status_code != 200:
                raise ProtocolError(f"{method}: HTTP {response.status_code}") from exc
            raise
        return result

    def _string_call(
        self, report: SessionReport, method: str, params: list[tuple[str, str | int | None]]
    ) -> str:
        result = self._call(method, params)
        text = "" if result is None else (result.text or "")
        report.calls.append(Call(method, repr(_short(text)) if text else '""'))
        return text

    # -- the session

    def run_once(self) -> SessionReport:
        """One whole Web Connector session; never raises for what the server does (see ``ended_by``)."""
        report = SessionReport()
        before = self.company.counts()
        try:
            self._session(report)
        except SoapFault as exc:
            report.fault = str(exc)
            report.calls.append(Call("(fault)", _short(str(exc))))
            report.ended_by = "soap-fault"
        except ProtocolError as exc:
            report.fault = str(exc)
            report.calls.append(Call("(error)", _short(str(exc))))
            report.ended_by = "protocol-error"
        after = self.company.counts()
        report.records_created = {k: v - before.get(k, 0) for k, v in after.items() if v > before.get(k, 0)}
        return report

    def _session(self, report: SessionReport) -> None:
        report.server_version = self._string_call(report, "serverVersion", [])
        answer = self._string_call(report, "clientVersion", [("strVersion", self.client_version)])
        report.client_version_result = answer
        if answer[:2].upper() in ("E:", "O:"):
            report.ended_by = "clientVersion"
            return
        if not self._authenticate(report):
            return
        try:
            self._exchange(report)
        finally:
            self.company.end_session()

    def _authenticate(self, report: SessionReport) -> bool:
        result = self._call("authenticate", [("strUserName", self.username), ("strPassword", self.password)])
        values = [] if result is None else [(s.text or "") for s in result.findall(f"{{{INTUIT_NS}}}string")]
        report.calls.append(Call("authenticate", repr(values)))
        if len(values) < 2:
            raise ProtocolError(f"authenticate: expected at least 2 strings, got {values!r}")
        report.ticket, report.auth_result = values[0], values[1]
        if len(values) > 2 and values[2].strip().lstrip("-").isdigit():
            report.postpone_seconds = int(values[2])
        if len(values) > 3 and values[3].strip().isdigit():
            report.min_run_seconds = int(values[3])
        verdict = values[1].strip().lower()
        if verdict in ("none", "nvu", "busy"):
            report.ended_by = f"auth:{verdict}"
            return False
        if report.postpone_seconds and report.postpone_seconds > 0:
            report.ended_by = "postponed"
            return False
        company_file = values[1] or self.company_file_name
        for _attempt in range(3):
            if not self._begin_session_failures:
                self.company_file_name = company_file
                return True
            hresult, message = self._begin_session_failures.pop(0)
            answer = self._string_call(
                report,
                "connectionError",
                [("ticket", report.ticket), ("hresult", hresult), ("message", message)],
            )
            if answer.strip().lower() == "done" or not answer.strip():
                break
            company_file = answer
        report.ended_by = "connectionError"
        return False

    def _version(self) -> tuple[int, int]:
        version = self.qbxml_version or self.company.qbxml_version
        major, minor = version.split(".")
        return int(major), int(minor)

    def _hcp_response(self) -> str:
        if self.owner_id and self.file_id and self.company.get_data_ext(self.owner_id, "FileID") is None:
            self.company.set_data_ext(self.owner_id, "FileID", self.file_id)
        major, minor = self._version()
        return self.company.host_query_response(major, minor)

    def _exchange(self, report: SessionReport) -> None:
        major, minor = self._version()
        hcp: str | None = self._hcp_response()
        while True:
            if report.round_trips >= self.max_round_trips:
                report.ended_by = "round-trip-limit"
                self._close(report)
                return
            request = self._string_call(
                report,
                "sendRequestXML",
                [
                    ("ticket", report.ticket),
                    ("strHCPResponse", hcp),
                    ("strCompanyFileName", self.company_file_name),
                    ("qbXMLCountry", self.country),
                    ("qbXMLMajorVers", major),
                    ("qbXMLMinorVers", minor),
                ],
            )
            hcp = None  # only the first call of a session carries it
            if not request.strip() or request.strip() == "NoOp":
                error = self._string_call(report, "getLastError", [("ticket", report.ticket)])
                report.last_error = error
                if error.strip() == "NoOp":
                    self.sleep(self.noop_wait_seconds)
                    continue
                self._close(report)
                return
            report.round_trips += 1
            response, hresult, message = "", "", ""
            try:
                response = self.company.process(request)
            except QbxmlRequestRejected as exc:
                hresult, message = exc.hresult, exc.message
                report.hresults.append((hresult, message))
            except SimulatedCrash:
                report.calls.append(Call("(crash)", "QuickBooks processed the request; no answer was sent"))
                report.ended_by = "crash"
                return
            self._count_statuses(report, response)
            percent = self._receive(report, response, hresult, message)
            report.percent_done.append(percent)
            if percent < 0:
                report.last_error = self._string_call(report, "getLastError", [("ticket", report.ticket)])
                self._close(report)
                return
            if percent >= 100:
                self._close(report)
                return

    def _receive(self, report: SessionReport, response: str, hresult: str, message: str) -> int:
        result = self._call(
            "receiveResponseXML",
            [("ticket", report.ticket), ("response", response), ("hresult", hresult), ("message", message)],
        )
        text = "" if result is None else (result.text or "").strip()
        report.calls.append(Call("receiveResponseXML", text or "(empty)"))
        try:
            return int(text)
        except ValueError as exc:
            raise ProtocolError(f"receiveResponseXML: expected a whole number, got {text!r}") from exc

    def _close(self, report: SessionReport) -> None:
        report.close_text = self._string_call(report, "closeConnection", [("ticket", report.ticket)])
        report.ended_by = report.ended_by or "closeConnection"

    @staticmethod
    def _count_statuses(report: SessionReport, response: str) -> None:
        if not response:
            return
        try:
            root = etree.fromstring(response.encode("utf-8"), _parser())
        except etree.XMLSyntaxError:
            return  # a damaged answer: the Web Connector hands it on as it is, and so does this one
        for rs in root.iterfind("QBXMLMsgsRs/*"):
            code = int(rs.get("statusCode", "0"))
            if code != 3231:
                report.requests_processed += 1
            report.statuses.append((rs.tag[:-2], code, rs.get("statusMessage", "")))

    # -- Auto-Run

    def run(
        self,
        sessions: int | None = None,
        until_idle: bool = False,
        interval_seconds: float = 0.0,
        max_sessions: int = 1000,
    ) -> list[SessionReport]:
        """Run sessions like Auto-Run: ``sessions`` of them, or ``until_idle`` (until a session processes
        no request), waiting ``interval_seconds`` (or the server's minimum, if larger) between them."""
        if sessions is None and not until_idle:
            sessions = 1
        reports: list[SessionReport] = []
        limit = sessions if sessions is not None else max_sessions
        while len(reports) < limit:
            if reports:
                wait = max(interval_seconds, float(reports[-1].min_run_seconds or 0))
                if wait:
                    self.sleep(wait)
            report = self.run_once()
            reports.append(report)
            if until_idle and report.requests_processed == 0 and report.ended_by != "crash":
                break
        return reports
