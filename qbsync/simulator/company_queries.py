"""Query requests: the filters QuickBooks applies, the 1/500/3120 answers, and iterators."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from qbsync.simulator.company_lists import list_ret
from qbsync.simulator.company_sales import customer_balances, txn_ret
from qbsync.simulator.company_store import (
    NAME_KINDS,
    Record,
    StatusError,
    Store,
    as_list,
    is_true,
    object_not_found,
)

NO_MATCH = "A query request did not find a matching object in QuickBooks"


@dataclass
class Answer:
    """What one request gets back: a status, Rs attributes beyond the status, and the Rs content."""

    body: dict[str, Any] = field(default_factory=dict)
    code: int = 0
    severity: str = "Info"
    message: str = "Status OK"
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class Selection:
    """Records a query picked, with the status the pick earns."""

    records: list[Record]
    code: int = 0
    severity: str = "Info"
    message: str = "Status OK"


@dataclass
class QueryIterator:
    """An open iterator: the records of the first call, handed out page by page."""

    request: str
    keys: list[tuple[str, str]]
    position: int = 0


def not_fully_completed(value: str) -> str:
    """The 500 warning text."""
    return (
        "The query request has not been fully completed. There was a required element "
        f'("{value}") that could not be found in QuickBooks.'
    )


def parse_moment(text: str, local: tzinfo, end_of_day: bool = False) -> datetime:
    """A DATETIMETYPE or DATETYPE filter value; no offset means the company's local time."""
    text = text.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime.combine(day, time.max if end_of_day else time.min, tzinfo=local)
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=local)


def _matches(value: str, criterion: str, wanted: str) -> bool:
    value, wanted = value.lower(), wanted.lower()
    if criterion == "StartsWith":
        return value.startswith(wanted)
    if criterion == "EndsWith":
        return value.endswith(wanted)
    return wanted in value


def _in_range(value: str, low: str | None, high: str | None) -> bool:
    value = value.lower()
    if low and value < low.lower():
        return False
    # A name that starts with ToName is still inside the range (QuickBooks' inclusive upper bound).
    return not (high and value > high.lower() and not value.startswith(high.lower()))


def _modified_between(record: Record, query: dict[str, Any], local: tzinfo) -> bool:
    modified = datetime.fromisoformat(record.time_modified)
    low = parse_moment(query["FromModifiedDate"], local) if query.get("FromModifiedDate") else None
    high = (
        parse_moment(query["ToModifiedDate"], local, end_of_day=True) if query.get("ToModifiedDate") else None
    )
    if isinstance(local, ZoneInfo):
        # A machine clock that keeps daylight saving time: QuickBooks writes its local clock time with the
        # zone's standard offset and reads a filter's clock time as local, whatever offset it carries
        # (jsgoupil/quickbooks-sync issue #19 and pull request #28: "The DateTime is otherwise accurate
        # (follows DST), but the offset does not follow DST"). It compares clock times.
        modified = modified.replace(tzinfo=None)
        low = low.replace(tzinfo=None) if low is not None else None
        high = high.replace(tzinfo=None) if high is not None else None
    if low is not None and modified < low:
        return False
    return not (high is not None and modified > high)


class QueryRunner:
    """Answers ``XxxQueryRq`` for lists and transactions; keeps the iterators of the current session."""

    def __init__(self, store: Store, local: tzinfo, today: Callable[[], date]) -> None:
        self.store = store
        self.local = local
        self.today = today
        self.iterators: dict[str, QueryIterator] = {}

    # -- selection

    def select_lists(self, kinds: tuple[str, ...], query: dict[str, Any]) -> Selection:
        """List elements a list query asks for (ListID, FullName, or the filters)."""
        store = self.store
        if "ListID" in query:
            return self._by_ids(kinds, [str(x) for x in as_list(query["ListID"])])
        if "FullName" in query:
            found, missing = [], []
            for name in as_list(query["FullName"]):
                record = store.by_name(kinds, str(name))
                (found.append(record) if record is not None else missing.append(str(name)))
            if missing:
                return Selection(found, 500, "Warn", not_fully_completed(missing[0]))
            return Selection(found)
        active = query.get("ActiveStatus", "ActiveOnly")
        picked = []
        for record in store.all(kinds):
            is_active = is_true(record.data.get("IsActive", "true"))
            if (active == "ActiveOnly" and not is_active) or (active == "InactiveOnly" and is_active):
                continue
            if not _modified_between(record, query, self.local):
                continue
            full_name = store.full_name(record)
            name_filter = query.get("NameFilter")
            if isinstance(name_filter, dict) and not _matches(
                full_name, name_filter.get("MatchCriterion", "Contains"), name_filter.get("Name", "")
            ):
                continue
            name_range = query.get("NameRangeFilter")
            if isinstance(name_range, dict) and not _in_range(
                full_name, name_range.get("FromName"), name_range.get("ToName")
            ):
                continue
            for field_name in ("AccountType", "PaymentMethodType"):
                wanted = as_list(query.get(field_name))
                if wanted and record.data.get(field_name) not in wanted:
                    break
            else:
                picked.append(record)
        picked.sort(key=lambda r: (store.full_name(r).lower(), r.number))
        return Selection(picked)

    def _by_ids(self, kinds: tuple[str, ...], ids: list[str]) -> Selection:
        found = [r for r in (self.store.get(kinds, i) for i in ids) if r is not None]
        missing = [i for i in ids if self.store.get(kinds, i) is None]
        if missing and not found:
            raise object_not_found(missing[0])
        if missing:
            return Selection(found, 500, "Warn", not_fully_completed(missing[0]))
        return Selection(found)

    def select_txns(self, kind: str, query: dict[str, Any]) -> Selection:
        """Transactions a transaction query asks for (TxnID, RefNumber, or the filters)."""
        if "TxnID" in query:
            return self._by_ids((kind,), [str(x) for x in as_list(query["TxnID"])])
        if "RefNumber" in query or "RefNumberCaseSensitive" in query:
            case_sensitive = "RefNumberCaseSensitive" in query and "RefNumber" not in query
            field = "RefNumberCaseSensitive" if case_sensitive else "RefNumber"
            wanted = [str(x) for x in as_list(query[field])]
            picked = {
                r.id: r
                for ref in wanted
                for r in self.store.by_ref_number(kind, ref)
                if not case_sensitive or str(r.data.get("RefNumber", "")) == ref
            }
            return Selection(sorted(picked.values(), key=_txn_order))
        records = list(self.store.all((kind,)))
        return Selection(sorted((r for r in records if self._txn_filters_pass(r, query)), key=_txn_order))

    def _txn_filters_pass(self, record: Record, query: dict[str, Any]) -> bool:
        data = record.data
        modified = query.get("ModifiedDateRangeFilter")
        if isinstance(modified, dict) and not _modified_between(record, modified, self.local):
            return False
        dates = query.get("TxnDateRangeFilter")
        if isinstance(dates, dict) and not self._txn_date_in(str(data.get("TxnDate", "")), dates):
            return False
        entity = query.get("EntityFilter")
        entity_ref = data.get("CustomerRef") or data.get("VendorRef") or data.get("EntityRef")
        if isinstance(entity, dict) and not self._ref_matches(entity_ref, entity, NAME_KINDS):
            return False
        account = query.get("AccountFilter")
        if isinstance(account, dict):
            refs = [v for k, v in data.items() if k.endswith("AccountRef")]
            if not any(self._ref_matches(ref, account, ("Account",)) for ref in refs):
                return False
        item = query.get("ItemFilter")
        if isinstance(item, dict):
            refs = [
                line.get("ItemRef")
                for key, lines in data.items()
                if key.endswith("LineRet")
                for line in as_list(lines)
            ]
            if not any(self._ref_matches(ref, item, ()) for ref in refs):
                return False
        ref_number = str(data.get("RefNumber", ""))
        ref_filter = query.get("RefNumberFilter")
        if isinstance(ref_filter, dict) and not _matches(
            ref_number, ref_filter.get("MatchCriterion", "Contains"), ref_filter.get("RefNumber", "")
        ):
            return False
        ref_range = query.get("RefNumberRangeFilter")
        if isinstance(ref_range, dict) and not _ref_number_in(
            ref_number, ref_range.get("FromRefNumber"), ref_range.get("ToRefNumber")
        ):
            return False
        paid = query.get("PaidStatus", "All")
        return not (
            (paid == "PaidOnly" and not is_true(data.get("IsPaid")))
            or (paid == "NotPaidOnly" and is_true(data.get("IsPaid")))
        )

    def _ref_matches(self, ref: Any, wanted: dict[str, Any], kinds: tuple[str, ...]) -> bool:
        if not isinstance(ref, dict):
            return False
        ids = {str(x) for x in as_list(wanted.get("ListID"))}
        names = {str(x).lower() for x in as_list(wanted.get("FullName"))}
        full_name = str(ref.get("FullName", "")).lower()
        record = self.store.get(self.store.records.keys(), ref.get("ListID", ""))
        if record is not None:
            full_name = self.store.full_name(record).lower()
        if ref.get("ListID") in ids or full_name in names:
            return True
        for parent_id in as_list(wanted.get("ListIDWithChildren")):
            parent = self.store.get(self.store.records.keys(), str(parent_id))
            if parent is not None and _is_within(full_name, self.store.full_name(parent).lower()):
                return True
        return any(_is_within(full_name, str(n).lower()) for n in as_list(wanted.get("FullNameWithChildren")))

    def _txn_date_in(self, txn_date: str, dates: dict[str, Any]) -> bool:
        low, high = dates.get("FromTxnDate"), dates.get("ToTxnDate")
        if dates.get("DateMacro"):
            low, high = self._date_macro(str(dates["DateMacro"]))
        return not ((low and txn_date < low) or (high and txn_date > high))

    def _date_macro(self, macro: str) -> tuple[str | None, str | None]:
        today = self.today()
        first_of_month = today.replace(day=1)
        last_month_end = first_of_month - timedelta(days=1)
        ranges = {
            "All": (None, None),
            "Today": (today, today),
            "Yesterday": (today - timedelta(days=1), today - timedelta(days=1)),
            "ThisMonth": (first_of_month, None),
            "ThisMonthToDate": (first_of_month, today),
            "LastMonth": (last_month_end.replace(day=1), last_month_end),
            "ThisYear": (today.replace(month=1, day=1), today.replace(month=12, day=31)),
            "ThisYearToDate": (today.replace(month=1, day=1), today),
        }
        if macro not in ranges:
            raise StatusError(
                1030,
                f'This request is not supported by this implementation. (DateMacro "{macro}" '
                "is not simulated)",
            )
        low, high = ranges[macro]
        return (low.isoformat() if low else None, high.isoformat() if high else None)

    # -- answering

    def answer(
        self,
        request: str,
        attributes: dict[str, str],
        query: dict[str, Any],
        kinds: tuple[str, ...],
        is_txn: bool,
    ) -> Answer:
        """Run a list or transaction query, with iterators, MaxReturned, metaData and IncludeRetElement."""
        iterator = attributes.get("iterator")
        max_returned = int(query["MaxReturned"]) if str(query.get("MaxReturned", "")).isdigit() else None
        if iterator in ("Continue", "Stop"):
            return self._continue(request, attributes, query, max_returned, is_txn)
        selection = self.select_txns(kinds[0], query) if is_txn else self.select_lists(kinds, query)
        records = selection.records
        answer = Answer(code=selection.code, severity=selection.severity, message=selection.message)
        if iterator == "Start":
            page = records[:max_returned] if max_returned is not None else records
            rest = records[len(page) :]
            iterator_id = "{" + str(uuid.uuid4()) + "}"
            if rest:
                self.iterators[iterator_id] = QueryIterator(request, [(r.kind, r.id) for r in rest])
            answer.attributes.update(iteratorRemainingCount=str(len(rest)), iteratorID=iterator_id)
            records = page
        elif max_returned is not None:
            records = records[:max_returned]
        return self._fill(answer, records, attributes, query, is_txn)

    def _continue(
        self,
        request: str,
        attributes: dict[str, str],
        query: dict[str, Any],
        max_returned: int | None,
        is_txn: bool,
    ) -> Answer:
        iterator_id = attributes.get("iteratorID", "")
        state = self.iterators.get(iterator_id)
        if state is None or state.request != request:
            raise StatusError(
                3000, f'The given object ID "{iterator_id}" in the field "iteratorID" is invalid.'
            )
        if attributes.get("iterator") == "Stop":
            del self.iterators[iterator_id]
            return Answer(attributes={"iteratorRemainingCount": "0", "iteratorID": iterator_id})
        size = max_returned if max_returned is not None else len(state.keys)
        keys = state.keys[state.position : state.position + size]
        state.position += len(keys)
        remaining = len(state.keys) - state.position
        if remaining == 0:
            del self.iterators[iterator_id]
        records = [
            r for r in (self.store.get((kind,), record_id) for kind, record_id in keys) if r is not None
        ]
        answer = Answer(attributes={"iteratorRemainingCount": str(remaining), "iteratorID": iterator_id})
        return self._fill(answer, records, attributes, query, is_txn)

    def _fill(
        self,
        answer: Answer,
        records: list[Record],
        attributes: dict[str, str],
        query: dict[str, Any],
        is_txn: bool,
    ) -> Answer:
        meta = attributes.get("metaData", "NoMetaData")
        if meta != "NoMetaData":
            answer.attributes = {"retCount": str(len(records)), **answer.attributes}
        if not records and answer.code == 0:
            answer.code, answer.message = 1, NO_MATCH
        if meta == "MetaDataOnly":
            return answer
        wanted = set(as_list(query.get("IncludeRetElement")))
        include_lines = is_true(query.get("IncludeLineItems", "false"))
        include_linked = is_true(query.get("IncludeLinkedTxns", "false"))
        balances = customer_balances(self.store) if any(r.kind == "Customer" for r in records) else None
        for record in records:
            ret = (
                txn_ret(self.store, record, include_lines, include_linked)
                if is_txn
                else list_ret(self.store, record, balances)
            )
            if wanted:
                ret = {k: v for k, v in ret.items() if k in wanted}
            answer.body.setdefault(f"{record.kind}Ret", []).append(ret)
        return answer


def _txn_order(record: Record) -> tuple[str, int]:
    return (str(record.data.get("TxnDate", "")), record.number)


def _is_within(full_name: str, parent: str) -> bool:
    return full_name == parent or full_name.startswith(parent + ":")


def _ref_number_in(value: str, low: str | None, high: str | None) -> bool:
    if value.isdigit() and (low or "0").isdigit() and (high or "0").isdigit():
        number = int(value)
        return not ((low and number < int(low)) or (high and number > int(high)))
    return _in_range(value, low, high)
