"""Reference lists: pull accounts, items, payment methods, tax codes, vendors, classes and customers into
qb_list_entries, and what the company says about itself (HostQuery, PreferencesQuery) into checkpoints.

One job per list, so the lists are read side by side; items and customers page with iterators
(``iterator="Start"`` then ``"Continue"`` within the same Web Connector session). An entry QuickBooks no
longer has is removed once its list was read to the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from qbsync.qbxml.parse import Response
from qbsync.queue import inventory, jobs, lists, preflight
from qbsync.queue.handlers import (
    Again,
    ApplyResult,
    BuildResult,
    Context,
    Done,
    Reject,
    progress,
    refused,
    register,
    render,
    set_progress,
)
from qbsync.queue.handlers.answers import READABLE
from qbsync.storage.models import QueueJob

# No TimeModified kept yet: QuickBooks reads a FromModifiedDate's clock time as its own local time, so a
# read of the changed customers starts a day before our clock's (covers any zone; re-read ones are kept).
CLOCK_MARGIN = timedelta(days=1)
FEATURE_OFF = 3250  # "This feature is not enabled or not available in this version of QuickBooks"
# Fields asked for per list (less to send and to parse than whole records).
RETURNED: dict[str, list[str]] = {
    # TimeModified: where the next read of the changed customers starts (lists.request_customer_changes).
    "Customer": ["ListID", "FullName", "EditSequence", "Email", "IsActive", "TimeModified"],
    # The stored SKU proves an item is a product's before qbsync links it (items.not_ours); sales tax items
    # (and groups) have a Name and no FullName: they are not hierarchical.
    "Item": ["ListID", "FullName", "Name", "EditSequence", "IsActive", "BarCodeValue",
             "ManufacturerPartNumber", "TaxRate", "TaxVendorRef"],
    "Vendor": ["ListID", "Name", "IsActive", "IsSalesTaxAgency"],
}


class ListRefreshHandler:
    """Queue jobs of kind ``list_refresh``: payload ``{"list": "Customer"}``."""

    kind = lists.REFRESH_KIND

    def build(self, ctx: Context, job: QueueJob) -> BuildResult:
        list_type = str(job.payload.get("list") or "")
        if list_type in lists.COMPANY_QUERIES:
            return render(ctx, lists.COMPANY_QUERIES[list_type], {}, "read")
        if list_type not in lists.LISTS:
            return Reject(f"unknown QuickBooks list {list_type!r}; known: {', '.join(lists.DEFAULT_LISTS)}")
        request_type, pages, _ = lists.LISTS[list_type]
        notes = progress(job)
        if not notes.get("started"):
            set_progress(job, started=ctx.now.isoformat())
        data: dict[str, Any] = {"ActiveStatus": "All"}
        if list_type in RETURNED:
            data["IncludeRetElement"] = RETURNED[list_type]
        if job.payload.get("changes"):
            # Only the customers changed since the list was read (ListFilter's FromModifiedDate).
            data["FromModifiedDate"] = self._changes_from(ctx)
        if pages:
            data["MaxReturned"] = int(ctx.settings.list_page_size) or 500
            if notes.get("iterator") and notes.get("qb_session") == ctx.qb_session_id:
                data.update(iterator="Continue", iteratorID=notes["iterator"])
            else:
                data["iterator"] = "Start"
        return render(ctx, request_type, data, "read")

    def apply(self, ctx: Context, job: QueueJob, response: Response) -> ApplyResult:
        list_type = str(job.payload.get("list"))
        notes = progress(job)
        if list_type in lists.COMPANY_QUERIES:
            if response.outcome not in READABLE or not response.record:
                jobs.detach_dependents(ctx.session, job, ctx.now)  # the setup goes on with what it has
                return refused(response, f"{lists.COMPANY_QUERIES[list_type]}")
            lists.store_company(ctx.session, ctx.connection.id, list_type, response.record)
            return Done(f"read what QuickBooks says about the company ({lists.COMPANY_QUERIES[list_type]})")
        conn_id = ctx.connection.id
        if response.status_code == FEATURE_OFF:
            # The company does not use the feature (sales tax off: no tax codes): the list is empty.
            lists.finish_list(ctx.session, conn_id, list_type, ctx.now + timedelta(seconds=1))
            lists.mark_refreshed(ctx.session, conn_id, list_type, ctx.now)
            preflight.wake(ctx.session, conn_id, ctx.now)
            return Done(f"the company does not use the {list_type} list ({response.status_code}: "
                        f"{response.message})")
        changes = bool(job.payload.get("changes"))
        if response.outcome not in READABLE:
            if notes.get("iterator") and response.status_code == 3000:
                set_progress(job, iterator=None)  # the iterator ended with its session: read again
                return Again(f"reading the {list_type} list again from the start")
            if changes:
                # The guest orders waiting for it go on with the list as it is (not again each round trip).
                lists.caught_up(ctx.session, conn_id, datetime.fromisoformat(notes["started"]))
                return Done(f"the changed customers could not be read ({response.status_code}: "
                            f"{response.message}); guests are matched by the list as last read")
            # The company setup waiting for the lists goes on with the ones that were read.
            jobs.detach_dependents(ctx.session, job, ctx.now)
            return refused(response, f"{list_type} list query")
        page = list(zip(response.record_types, response.records, strict=True))
        lists.store_page(ctx.session, conn_id, list_type, page, ctx.now)
        newest = (self._newest(notes.get("newest"), (record for _, record in page))
                  if list_type == "Customer" else None)
        if response.iterator_remaining_count:
            set_progress(job, iterator=response.iterator_id, qb_session=ctx.qb_session_id, newest=newest,
                         read=int(notes.get("read") or 0) + len(page))
            return Again(f"{response.iterator_remaining_count} more {list_type} records to read")
        if newest is not None:
            kept = inventory.read_moment(ctx.session, conn_id, lists.CUSTOMERS_NEWEST)
            moment = inventory.qb_moment(newest)
            if moment is not None and (kept is None or moment > kept):
                inventory.save_moment(ctx.session, conn_id, lists.CUSTOMERS_NEWEST, moment, as_written=True)
        if changes:
            lists.caught_up(ctx.session, conn_id, datetime.fromisoformat(notes["started"]))
            return Done(f"{len(page) + int(notes.get('read') or 0)} customers changed in QuickBooks read")
        lists.finish_list(
            ctx.session,
            conn_id,
            list_type,
            datetime.fromisoformat(notes.get("started") or ctx.now.isoformat()),
        )
        lists.mark_refreshed(ctx.session, conn_id, list_type, ctx.now)
        preflight.wake(ctx.session, conn_id, ctx.now)  # a record a job waited for may be there now
        return Done(f"{list_type} list refreshed from QuickBooks")

    @staticmethod
    def _changes_from(ctx: Context) -> datetime:
        """Where a read of the changed customers starts: before the newest TimeModified read (in
        QuickBooks' own form, see inventory.from_modified_date); with none kept, a day before the list
        was last read, our clock's time read by QuickBooks as its local one whatever the offset."""
        conn_id = ctx.connection.id
        newest = inventory.read_moment(ctx.session, conn_id, lists.CUSTOMERS_NEWEST)
        start = inventory.from_modified_date(newest)
        if start is not None:
            return start
        current = lists.customers_current_at(ctx.session, conn_id) or ctx.now.replace(tzinfo=None)
        return current - CLOCK_MARGIN

    @staticmethod
    def _newest(kept: str | None, records: Iterable[Mapping[str, Any]]) -> str | None:
        """The newest TimeModified among ``kept`` and the records' (as QuickBooks wrote it)."""
        found = [(moment, text) for text in (kept, *(r.get("TimeModified") for r in records))
                 if (moment := inventory.qb_moment(text)) is not None]
        return str(max(found)[1]) if found else None


register(ListRefreshHandler())
