"""A QuickBooks Desktop company in memory, answering whole qbXML request documents as QuickBooks does.

>>> company = QuickBooksCompany()
>>> response = company.process(request_xml)      # a qbXML response document, or an exception:
...                                               # QbxmlRequestRejected (QuickBooks' parser refused it)
...                                               # SimulatedCrash (processed, but the answer was lost)

Behaviour modelled on real QuickBooks (see shared/reference/qbwc/PROTOCOL.md section 7): strict XSD
validation, onError handling with 3231, name spaces with 3100, references with 3140, EditSequence with
3200, unknown IDs with 3120/500, "no match" as status 1, iterators, Decimal totals, inventory quantities.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree

from qbsync.qbxml.fields import Catalog
from qbsync.simulator import (
    company_currency,
    company_features,
    company_host,
    company_lists,
    company_money,
    company_sales,
    ledger,
)
from qbsync.simulator.company_lists import Preferences, list_ret
from qbsync.simulator.company_queries import Answer, QueryRunner
from qbsync.simulator.company_schema import (
    SchemaInvalid,
    build_element,
    content_model,
    element_data,
    hardened_parser,
    message_field,
    schema_version_for,
    validate_document,
)
from qbsync.simulator.company_store import (
    ITEM_KINDS,
    NAME_KINDS,
    SALES_KINDS,
    TXN_KINDS,
    Record,
    StatusError,
    Store,
    as_list,
    decimal_of,
    is_txn_kind,
)
from qbsync.simulator.ledger import Books
from qbsync.simulator.profiles import Profile, get_profile

PARSE_ERROR_HRESULT = "0x80040400"
PARSE_ERROR_MESSAGE = "QuickBooks found an error when parsing the provided XML text stream."
NOT_PROCESSED = "The request has not been processed."
FILE_FORMAT = "qbsync-simulated-quickbooks-company"

# List kinds that take Add, Mod and Query requests.
LIST_KINDS = (
    *NAME_KINDS,
    *ITEM_KINDS,
    "Account",
    "PaymentMethod",
    "SalesTaxCode",
    "StandardTerms",
    "ShipMethod",
    "Class",
    "Currency",
)

# Default texts of the errors tests inject (the lock and contention failures real QuickBooks gives).
INJECTED_MESSAGES = {
    3170: "There was an error when modifying a {what}.  QuickBooks error message: "
    "This list has been modified by another user.",
    3175: "There was an error when modifying a {what}.  QuickBooks error message: "
    "The object could not be locked.",
    3176: "There was an error when modifying a {what}.  QuickBooks error message: "
    "The record failed to acquire the lock.",
    3180: "There was an error when saving a {what}.  QuickBooks error message: "
    "This list has been modified by another user.",
    1000: "There has been an internal error when processing the request.",
    1010: "System not available",
}


class QbxmlRequestRejected(Exception):
    """QuickBooks refused the whole document (the Web Connector reports an HRESULT, no response)."""

    def __init__(self, hresult: str, message: str, detail: str = "") -> None:
        super().__init__(f"{hresult} {message}" + (f" ({detail})" if detail else ""))
        self.hresult = hresult
        self.message = message
        self.detail = detail


class SimulatedCrash(Exception):
    """The document was processed (its changes stay) but the answer never left QuickBooks."""


@dataclass
class LoggedExchange:
    """One document the company received, and what became of it."""

    request: str
    response: str | None
    hresult: str | None = None
    message: str | None = None
    crashed: bool = False


_CRASH = "crash"  # QuickBooksCompany._marked: the request a crash_on marker names
_DROP = "drop"  # ... or a drop_answers_to marker


@dataclass
class _Fault:
    code: int
    request_type: str | None
    times: int
    message: str | None


def _severity(code: int) -> str:
    if code >= 1000:
        return "Error"
    return "Warn" if code >= 500 else "Info"


class QuickBooksCompany:
    """A simulated QuickBooks Desktop company, thread-safe, optionally kept in a JSON file.

    ``profile`` names how QuickBooks' setup left the company (``qbsync.simulator.profiles``: "service",
    "retail", "canada", "uk", "multicurrency", "legacy" (the original seeding with the names qbsync's
    defaults expect); None = "retail"). It decides the country, edition, preferences and starting lists.

    ``qbxml_version`` is the newest qbXML spec this QuickBooks supports ("13.0" is QuickBooks 2014; set
    "5.0" to simulate one that is too old). Times are local to ``utc_offset`` (QuickBooks reports local
    time with its offset; a filter time without an offset is read as local time). ``zone`` (an IANA name)
    gives the machine a clock that keeps daylight saving time instead; QuickBooks then reports the clock
    time with the zone's standard offset all year and reads filter times as clock times (see
    ``company_queries._modified_between``). ``clock`` replaces the
    wall clock (it must return aware datetimes). ``latency_seconds`` is slept (through ``sleep``) for every
    request processed, inside the lock: QuickBooks works on one request at a time.
    ``refuses_zero_credit_memos`` makes it refuse a CreditMemoAdd whose total is 0.00 (3180, assumed):
    the other possibility of a behaviour nobody has seen (SIMULATOR.md); ``refuses_zero_sales`` the same
    for an InvoiceAdd or SalesReceiptAdd whose total is 0.00.
    """

    def __init__(
        self,
        company_name: str = "Simulated Store Company",
        profile: str | None = None,
        qbxml_version: str = "13.0",
        utc_offset: timedelta = timedelta(hours=-5),
        zone: str | None = None,
        clock: Callable[[], datetime] | None = None,
        latency_seconds: float = 0.0,
        path: str | os.PathLike[str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        refuses_zero_credit_memos: bool = False,
        refuses_zero_sales: bool = False,
    ) -> None:
        company_host.supported_versions(qbxml_version)  # a clear error for an unknown version
        self.profile: Profile = get_profile(profile)
        self.company_name = company_name
        self.qbxml_version = qbxml_version
        self.utc_offset = utc_offset
        self._zone = timezone(utc_offset)
        self._dst_zone = ZoneInfo(zone) if zone else None
        self._clock = clock
        self.latency_seconds = latency_seconds
        self._sleep = sleep
        self.path = Path(path) if path is not None else None
        self.request_log: list[LoggedExchange] = []
        self.data_ext: list[dict[str, str]] = []
        self._lock = threading.RLock()
        self._faults: list[_Fault] = []
        self._rejections: list[tuple[str, str]] = []
        self._unparseable: list[str] = []
        self._garbling: list[str] = []
        self._dropping: list[str] = []
        self._crashing: list[str] = []
        self._crashes = 0
        self.store = Store(self.now)
        self.prefs = Preferences()
        self.queries = QueryRunner(self.store, self._dst_zone or self._zone, self.today)
        company_lists.seed_profile(self.store, self.prefs, self.profile)
        # Whether QuickBooks takes a CreditMemoAdd of 0.00 is assumed (SIMULATOR.md): True is the other
        # possibility, a refusal.
        self.prefs.refuses_zero_credit_memos = refuses_zero_credit_memos
        self.prefs.refuses_zero_sales = refuses_zero_sales

    # -- time

    def now(self) -> datetime:
        """The company's current local time."""
        moment = self._clock() if self._clock is not None else datetime.now(self._zone)
        if self._dst_zone is not None:
            # The clock time follows daylight saving time; the offset QuickBooks writes does not.
            local = moment.astimezone(self._dst_zone)
            standard = (local.utcoffset() or timedelta(0)) - (local.dst() or timedelta(0))
            return local.replace(tzinfo=timezone(standard))
        return moment.astimezone(self._zone)

    def today(self) -> date:
        """The company's current local date."""
        return self.now().date()

    @property
    def version_tuple(self) -> tuple[int, int]:
        """(major, minor) of the newest qbXML spec this QuickBooks supports."""
        return company_host.version_tuple(self.qbxml_version)

    # -- faults

    def inject(
        self, code: int = 3175, request_type: str | None = None, times: int = 1, message: str | None = None
    ) -> None:
        """Answer the next ``times`` requests of ``request_type`` (``"CustomerAdd"``; None = any) with
        status ``code`` instead of processing them."""
        if request_type and request_type.endswith("Rq"):
            request_type = request_type[:-2]
        with self._lock:
            self._faults.append(_Fault(code, request_type, times, message))

    def reject_next(
        self, hresult: str = "0x80040408", message: str = "Could not start QuickBooks.", times: int = 1
    ) -> None:
        """Make the next ``times`` documents fail as a whole with this HRESULT (nothing processed)."""
        with self._lock:
            self._rejections.extend([(hresult, message)] * times)

    def fail_to_parse(self, text: str) -> None:
        """Refuse, as a whole, every later document containing ``text`` with QuickBooks' parse error
        (0x80040400), as its parser does on text it cannot handle although the schema allows it: nothing
        in the document is processed and the Web Connector reports the HRESULT with an empty response."""
        with self._lock:
            self._unparseable.append(text)

    def garble_answers_to(self, text: str) -> None:
        """Process every later document containing ``text`` fully, but answer it with a document cut off
        halfway (not well-formed XML), as when the answer is damaged on its way back to the server."""
        with self._lock:
            self._garbling.append(text)

    def drop_answers_to(self, text: str) -> None:
        """Leave every later request element containing ``text`` undone and unanswered: the response
        document carries the answers to the other requests only (a test device: QuickBooks left one
        request without an answer; qbsync must not resend it for ever)."""
        with self._lock:
            self._dropping.append(text)

    def crash_on(self, text: str) -> None:
        """Die on every later request element containing ``text``: the requests before it in its
        document are processed, it and the rest are not, and no answer is sent (:class:`SimulatedCrash`,
        as :meth:`crash_after_processing`): a test device for a request QuickBooks crashes on."""
        with self._lock:
            self._crashing.append(text)

    def crash_after_processing(self, times: int = 1) -> None:
        """Process the next ``times`` documents fully, then raise :class:`SimulatedCrash` instead of
        answering (QuickBooks or the Web Connector died before the response reached the server)."""
        with self._lock:
            self._crashes += times

    def end_session(self) -> None:
        """The Web Connector closed its QuickBooks session: open iterators are gone."""
        with self._lock:
            self.queries.iterators.clear()

    # -- processing

    def process(self, request_xml: str | bytes) -> str:
        """Answer a whole qbXML request document with the response document QuickBooks would send."""
        with self._lock:
            text = request_xml.decode("utf-8", "replace") if isinstance(request_xml, bytes) else request_xml
            entry = LoggedExchange(request=text, response=None)
            self.request_log.append(entry)
            try:
                response = self._process(request_xml)
            except QbxmlRequestRejected as exc:
                entry.hresult, entry.message = exc.hresult, exc.message
                raise
            except SimulatedCrash:  # crash_on: what was done before the crash stays done
                entry.crashed = True
                if self.path is not None:
                    self.save()
                raise
            if any(marker in text for marker in self._garbling):
                response = response[: len(response) // 2]
            entry.response = response
            if self.path is not None:
                self.save()
            if self._crashes:
                self._crashes -= 1
                entry.crashed = True
                raise SimulatedCrash("QuickBooks processed the request but the response was lost")
            return response

    def _process(self, request_xml: str | bytes) -> str:
        if self._rejections:
            hresult, message = self._rejections.pop(0)
            raise QbxmlRequestRejected(hresult, message, "injected")
        raw = request_xml.encode("utf-8") if isinstance(request_xml, str) else request_xml
        poison = next((marker for marker in self._unparseable if marker.encode("utf-8") in raw), None)
        if poison is not None:
            raise QbxmlRequestRejected(PARSE_ERROR_HRESULT, PARSE_ERROR_MESSAGE, f"cannot parse {poison!r}")
        schema_version = schema_version_for(*self.version_tuple)
        try:
            root = etree.fromstring(raw, hardened_parser())
            validate_document(raw, schema_version)
        except (etree.XMLSyntaxError, SchemaInvalid) as exc:
            raise QbxmlRequestRejected(PARSE_ERROR_HRESULT, PARSE_ERROR_MESSAGE, str(exc)) from exc
        self._check_version(root)
        if any(name.encode() in raw for name in company_features.foreign_names(self.prefs)):
            self._check_regional_schema(root)
        messages = root.find("QBXMLMsgsRq")
        if messages is None:
            raise QbxmlRequestRejected(
                PARSE_ERROR_HRESULT, PARSE_ERROR_MESSAGE, "only QBXMLMsgsRq message sets are simulated"
            )
        model = content_model(schema_version)
        out_root = etree.Element("QBXML")
        out_messages = etree.SubElement(out_root, "QBXMLMsgsRs")
        stop_on_error = messages.get("onError") != "continueOnError"
        include_none = messages.get("responseData") == "includeNone"
        failed = False
        for request in messages:
            if not isinstance(request.tag, str):
                continue
            marked = self._marked(request)
            if marked == _CRASH:
                raise SimulatedCrash("QuickBooks died on a request; no answer was sent")
            if marked == _DROP:
                continue  # drop_answers_to: neither done nor answered
            if failed and stop_on_error:
                answer = Answer(code=3231, severity="Error", message=NOT_PROCESSED)
            else:
                answer = self._answer(request)
                if self.latency_seconds:
                    self._sleep(self.latency_seconds)
            failed = failed or answer.code >= 1000
            self._render(model, out_messages, request, answer, include_none)
        body = etree.tostring(out_root, encoding="unicode")
        return f'<?xml version="1.0" ?>\n{body}\n'

    def _marked(self, request: etree._Element) -> str | None:
        """Whether a test device (:meth:`crash_on`, :meth:`drop_answers_to`) names this request."""
        if not self._crashing and not self._dropping:
            return None
        text = etree.tostring(request, encoding="unicode")
        if any(marker in text for marker in self._crashing):
            return _CRASH
        if any(marker in text for marker in self._dropping):
            return _DROP
        return None

    def _check_version(self, root: etree._Element) -> None:
        """The ``<?qbxml version?>`` instruction must be there and name a spec this QuickBooks knows."""
        version = None
        sibling = root.getprevious()
        while sibling is not None:
            if isinstance(sibling, etree._ProcessingInstruction) and sibling.target == "qbxml":
                version = sibling.get("version")
            sibling = sibling.getprevious()
        if version is None:
            raise QbxmlRequestRejected(
                PARSE_ERROR_HRESULT,
                PARSE_ERROR_MESSAGE,
                'missing <?qbxml version="..."?> processing instruction',
            )
        try:
            requested = company_host.version_tuple(version)
        except ValueError as exc:
            raise QbxmlRequestRejected(PARSE_ERROR_HRESULT, PARSE_ERROR_MESSAGE, str(exc)) from exc
        if requested > self.version_tuple:
            raise QbxmlRequestRejected(
                PARSE_ERROR_HRESULT,
                PARSE_ERROR_MESSAGE,
                f"qbXML {version} requested; this QuickBooks supports up to {self.qbxml_version}",
            )

    def _check_regional_schema(self, root: etree._Element) -> None:
        """A QuickBooks cannot parse another edition's elements: a US header sales tax item in a Canadian or
        UK file, IsTaxIncluded in a US one (assumed; company_features)."""
        messages = root.find("QBXMLMsgsRq")
        for request in messages if messages is not None else ():
            if not isinstance(request.tag, str):
                continue
            element = company_features.foreign_element(self.prefs, request.tag[:-2], element_data(request))
            if element is not None:
                raise QbxmlRequestRejected(
                    PARSE_ERROR_HRESULT,
                    PARSE_ERROR_MESSAGE,
                    f"{element} is not in the {self.prefs.country} edition's qbXML schema",
                )

    def _render(
        self,
        model: Catalog,
        parent: etree._Element,
        request: etree._Element,
        answer: Answer,
        include_none: bool,
    ) -> None:
        name = request.tag[:-2] + "Rs"
        element = etree.SubElement(parent, name)
        if request.get("requestID") is not None:
            element.set("requestID", request.get("requestID"))
        element.set("statusCode", str(answer.code))
        element.set("statusSeverity", answer.severity)
        element.set("statusMessage", answer.message)
        for key, value in answer.attributes.items():
            element.set(key, value)
        if answer.body and not include_none:
            build_element(model, element, message_field(model, name), answer.body)

    def _answer(self, request: etree._Element) -> Answer:
        request_type = request.tag[:-2]
        fault = next((f for f in self._faults if f.request_type in (None, request_type)), None)
        if fault is not None:
            fault.times -= 1
            if fault.times <= 0:
                self._faults.remove(fault)
            what = request_type.removesuffix("Add").removesuffix("Mod").removesuffix("Query")
            message = fault.message or INJECTED_MESSAGES.get(fault.code, "Simulated error {code}.")
            return Answer(
                code=fault.code,
                severity=_severity(fault.code),
                message=message.format(what=what, code=fault.code),
            )
        try:
            return self._dispatch(request_type, dict(request.attrib), element_data(request))
        except StatusError as exc:
            return Answer(code=exc.code, severity=exc.severity, message=exc.message)

    def _dispatch(self, request_type: str, attributes: dict[str, str], data: dict[str, Any]) -> Answer:
        store, prefs, today = self.store, self.prefs, self.today().isoformat()
        company_features.check_request(prefs, request_type, data)
        if request_type in ("HostQuery", "CompanyQuery", "PreferencesQuery"):
            return self._host_answer(request_type, data)
        if request_type in ("TxnVoid", "TxnDel"):
            return self._void_or_delete(request_type, data)
        for suffix in ("Add", "Mod", "Query"):
            if request_type.endswith(suffix):
                kind = request_type[: -len(suffix)]
                break
        else:
            raise company_sales.unsupported(f"{request_type}Rq")
        if suffix == "Query":
            if kind == "Item":
                return self.queries.answer(f"{request_type}Rq", attributes, data, ITEM_KINDS, is_txn=False)
            if kind in LIST_KINDS or kind in TXN_KINDS:
                return self.queries.answer(f"{request_type}Rq", attributes, data, (kind,), is_txn_kind(kind))
            raise company_sales.unsupported(f"{request_type}Rq")
        payload = data.get(f"{kind}{suffix}")
        if not isinstance(payload, dict):
            payload = {}
        if kind in LIST_KINDS:
            if suffix == "Add":
                record = company_lists.add_list_element(store, prefs, kind, payload)
            else:
                if kind == "Customer" and "CurrencyRef" in payload:
                    company_currency.check_currency_change(store, payload)
                record = company_lists.mod_list_element(store, kind, payload)
            return Answer(body={f"{kind}Ret": self._list_ret(record)})
        if kind in SALES_KINDS:
            if suffix == "Add":
                record = company_sales.add_sales_form(store, prefs, kind, payload, today)
            else:
                record = company_sales.mod_sales_form(store, prefs, kind, payload)
        elif kind == "ReceivePayment" and suffix == "Add":
            record = company_sales.add_payment(store, prefs, payload, today)
        elif kind == "InventoryAdjustment" and suffix == "Add":
            record = company_sales.add_inventory_adjustment(store, payload, today)
        elif kind == "ARRefundCreditCard" and suffix == "Add":
            record = company_money.add_card_refund(store, prefs, payload, today)
        elif kind == "Check" and suffix == "Add":
            record = company_money.add_check(store, prefs, payload, today)
        elif kind == "Deposit" and suffix == "Add":
            record = company_money.add_deposit(store, prefs, payload, today)
        else:
            raise company_sales.unsupported(f"{request_type}Rq")
        return Answer(body={f"{kind}Ret": company_sales.txn_ret(store, record)})

    def _list_ret(self, record: Record) -> dict[str, Any]:
        balances = company_sales.customer_balances(self.store) if record.kind == "Customer" else None
        return list_ret(self.store, record, balances)

    def _void_or_delete(self, request_type: str, data: dict[str, Any]) -> Answer:
        type_field = f"{request_type}Type"
        kind, txn_id = str(data.get(type_field, "")), str(data.get("TxnID", ""))
        if request_type == "TxnVoid":
            record = company_sales.void_txn(self.store, self.prefs, kind, txn_id)
            return Answer(
                body={
                    type_field: kind,
                    "TxnID": record.id,
                    "TimeCreated": record.time_created,
                    "TimeModified": record.time_modified,
                    "RefNumber": record.data.get("RefNumber"),
                }
            )
        record, deleted_at = company_sales.delete_txn(self.store, self.prefs, kind, txn_id)
        return Answer(
            body={
                type_field: kind,
                "TxnID": record.id,
                "TimeDeleted": deleted_at,
                "RefNumber": record.data.get("RefNumber"),
            }
        )

    def _host_answer(self, request_type: str, data: dict[str, Any]) -> Answer:
        if request_type == "HostQuery":
            return Answer(body={"HostRet": company_host.host_ret(self.qbxml_version, self.profile)})
        if request_type == "CompanyQuery":
            owners = [str(o) for o in as_list(data.get("OwnerID"))]
            return Answer(
                body={
                    "CompanyRet": company_host.company_ret(
                        self.company_name, self.data_ext, owners, self.profile.company_type
                    )
                }
            )
        return Answer(
            body={"PreferencesRet": company_host.preferences_ret(self.store, self.prefs, self.profile)}
        )

    # -- the Web Connector's first-call document

    def set_data_ext(self, owner_id: str, name: str, value: str) -> None:
        """Store a company-level DataExt value (QBWC keeps the .qwc FileID this way)."""
        with self._lock:
            for entry in self.data_ext:
                if entry["OwnerID"] == owner_id and entry["DataExtName"] == name:
                    entry["DataExtValue"] = value
                    return
            self.data_ext.append({"OwnerID": owner_id, "DataExtName": name, "DataExtValue": value})

    def get_data_ext(self, owner_id: str, name: str) -> str | None:
        """A company-level DataExt value, or None."""
        with self._lock:
            for entry in self.data_ext:
                if entry["OwnerID"] == owner_id and entry["DataExtName"] == name:
                    return entry["DataExtValue"]
            return None

    def host_query_response(self, major: int | None = None, minor: int | None = None) -> str:
        """The ``strHCPResponse`` of a session's first sendRequestXML: HostQueryRs, CompanyQueryRs and
        PreferencesQueryRs (requestIDs 0, 1, 2), as QBWC sends it; ``major.minor`` overrides the newest
        supported qbXML version reported."""
        with self._lock:
            version = self.qbxml_version if major is None else f"{major}.{minor or 0}"
            model = content_model(schema_version_for(*company_host.version_tuple(version)))
            root = etree.Element("QBXML")
            messages = etree.SubElement(root, "QBXMLMsgsRs")
            parts = (
                ("HostQueryRs", {"HostRet": company_host.host_ret(version, self.profile)}),
                (
                    "CompanyQueryRs",
                    {
                        "CompanyRet": company_host.company_ret(
                            self.company_name, self.data_ext, None, self.profile.company_type
                        )
                    },
                ),
                (
                    "PreferencesQueryRs",
                    {"PreferencesRet": company_host.preferences_ret(self.store, self.prefs, self.profile)},
                ),
            )
            for request_id, (name, body) in enumerate(parts):
                element = etree.SubElement(
                    messages,
                    name,
                    requestID=str(request_id),
                    statusCode="0",
                    statusSeverity="Info",
                    statusMessage="Status OK",
                )
                build_element(model, element, message_field(model, name), body)
            return f'<?xml version="1.0" ?>\n{etree.tostring(root, encoding="unicode")}\n'

    # -- inspection (for tests and the CLI)

    def customers(self) -> list[dict[str, Any]]:
        """Every customer as its CustomerRet data (Balance included)."""
        with self._lock:
            balances = company_sales.customer_balances(self.store)
            return [list_ret(self.store, r, balances) for r in self.store.all(("Customer",))]

    def items(self) -> list[dict[str, Any]]:
        """Every item as its Ret data, with ``kind`` (``ItemInventory``...) added."""
        with self._lock:
            return [{"kind": r.kind, **list_ret(self.store, r)} for r in self.store.all(ITEM_KINDS)]

    def transactions(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Every transaction (of ``kind``, or all) as its Ret data with lines, and ``kind`` added."""
        with self._lock:
            kinds = (kind,) if kind else TXN_KINDS
            return [{"kind": r.kind, **company_sales.txn_ret(self.store, r)} for r in self.store.all(kinds)]

    def find(self, kind: str, name_or_ref: str) -> dict[str, Any] | None:
        """One record as its Ret data: a list element by ListID or FullName (``kind`` "Item" = any item),
        a transaction by TxnID or RefNumber."""
        with self._lock:
            kinds = ITEM_KINDS if kind == "Item" else (kind,)
            if kind in TXN_KINDS:
                record = self.store.get(kinds, name_or_ref) or next(
                    (r for r in self.store.all(kinds) if r.data.get("RefNumber") == name_or_ref), None
                )
                return (
                    None
                    if record is None
                    else {"kind": record.kind, **company_sales.txn_ret(self.store, record)}
                )
            record = self.store.get(kinds, name_or_ref) or self.store.by_name(kinds, name_or_ref)
            if record is None:
                return None
            return {"kind": record.kind, **self._list_ret(record)}

    def quantity_on_hand(self, item_name: str) -> Decimal:
        """An inventory item's QuantityOnHand as a Decimal (KeyError when there is no such item)."""
        record = self.find("ItemInventory", item_name)
        if record is None:
            raise KeyError(item_name)
        return decimal_of(record["QuantityOnHand"])

    def books(self, txn_ids: list[str] | None = None) -> Books:
        """What QuickBooks' reports show (account balances, sales tax per agency, customers' open
        balances and credits, stock), for the whole company or for the transactions ``txn_ids``."""
        with self._lock:
            records = None
            if txn_ids is not None:
                records = [r for r in (self.store.get(TXN_KINDS, i) for i in txn_ids) if r is not None]
            return ledger.books(self.store, self.prefs, records)

    def order_transactions(self, ref_number: str) -> list[dict[str, Any]]:
        """The sales forms whose RefNumber is ``ref_number`` and every transaction linked to them
        (payments, credits set, refunds paid from those credits, deposits), oldest first."""
        with self._lock:
            found = ledger.linked_transactions(self.store, ref_number)
            return [{"kind": r.kind, **company_sales.txn_ret(self.store, r)} for r in found]

    def counts(self) -> dict[str, int]:
        """How many records of each kind the company holds."""
        with self._lock:
            return {kind: len(records) for kind, records in self.store.records.items() if records}

    # -- persistence

    def to_json(self) -> dict[str, Any]:
        """The whole company as JSON-ready data."""
        with self._lock:
            return {
                "format": FILE_FORMAT,
                "format_version": 1,
                "company_name": self.company_name,
                "profile": self.profile.name,
                "qbxml_version": self.qbxml_version,
                "utc_offset_minutes": int(self.utc_offset.total_seconds() // 60),
                "data_ext": self.data_ext,
                "preferences": self.prefs.to_json(),
                "store": self.store.to_json(),
            }

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the company to ``path`` (or the path it was opened with), atomically."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("no path given and the company was not opened from a file")
        with self._lock:
            payload = json.dumps(self.to_json(), indent=1, sort_keys=True)
        temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        temporary.write_text(payload, encoding="utf-8")
        temporary.replace(target)
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str], **options: Any) -> QuickBooksCompany:
        """A company read from a file written by :meth:`save` (ValueError when it is not one)."""
        source = Path(path)
        try:
            raw = json.loads(source.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source} is not a simulated company file: {exc}") from exc
        if not isinstance(raw, dict) or raw.get("format") != FILE_FORMAT:
            raise ValueError(f"{source} is not a simulated company file")
        saved_profile = str(raw.get("profile", "legacy"))
        wanted = options.pop("profile", None)
        if wanted is not None and get_profile(wanted).name != saved_profile:
            raise ValueError(
                f"{source} holds a company made with profile {saved_profile!r}, not {wanted!r}; "
                "give another --company-file to start a new one"
            )
        company = cls(
            company_name=options.pop("company_name", raw["company_name"]),
            profile=saved_profile,
            qbxml_version=options.pop("qbxml_version", raw["qbxml_version"]),
            utc_offset=options.pop("utc_offset", timedelta(minutes=int(raw["utc_offset_minutes"]))),
            **options,
        )
        company.data_ext = list(raw.get("data_ext", []))
        company.prefs = Preferences(**raw["preferences"])
        company.prefs.profile = saved_profile
        company.store.load_json(raw["store"])
        return company

    @classmethod
    def open(cls, path: str | os.PathLike[str], **options: Any) -> QuickBooksCompany:
        """The company kept in ``path`` (a new standard company when the file does not exist yet); it is
        saved back after every processed document."""
        source = Path(path)
        company = cls.load(source, **options) if source.exists() else cls(**options)
        company.path = source
        return company
