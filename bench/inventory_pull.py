"""Inventory pull of 100,000 QuickBooks items through qbXML iterators: wall time and the service's memory.

The simulated company gets 100,000 inventory items; one inventory pull is queued and the simulated Web
Connector runs until idle against ``qbsync serve``. The server's resident memory is sampled every half
second: flat memory means pages are handled one at a time, whatever the item count.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from lxml import etree

from bench import machine, results
from bench.stack import QBWC_PASSWORD, Stack, peak_rss_mb
from qbsync.queue import inventory
from qbsync.simulator import QuickBooksCompany, WebConnector
from qbsync.storage.models import utcnow

NAME = "inventory_pull"
ITEMS = 100_000
GOALS = {"memory": "flat, under 300 MB RSS"}


def stock_company(items: int) -> QuickBooksCompany:
    """A company holding ``items`` inventory items (written straight into its store: setup, not measured)."""
    company = QuickBooksCompany()
    store = company.store
    for n in range(items):
        store.create("ItemInventory", {
            "Name": f"SKU-{n:06d}", "IsActive": "true", "SalesPrice": "19.99", "PurchaseCost": "8.00",
            "QuantityOnHand": str(n % 97), "AverageCost": "8.00", "QuantityOnOrder": "0",
            "QuantityOnSalesOrder": str(n % 3)})
    return company


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _items_read(log: list) -> tuple[int, int]:
    """Items the inventory pull read (ItemInventoryQuery) and the item list refresh read (ItemQuery)."""
    pulled = listed = 0
    for entry in log:
        if not entry.response:
            continue
        root = etree.fromstring(entry.response.encode())
        pulled += len(root.findall("QBXMLMsgsRs/ItemInventoryQueryRs/ItemInventoryRet"))
        listed += len(root.findall("QBXMLMsgsRs/ItemQueryRs/ItemInventoryRet"))
    return pulled, listed


def _pull(setup: str, stack: Stack, page_size: int, company: QuickBooksCompany) -> dict[str, Any]:
    assert stack.runtime is not None
    connection = stack.add_connection(f"pull{page_size}", qbwc_username=f"pull{page_size}-qbwc")
    with stack.runtime.db.transaction() as session:
        from qbsync.storage.models import Connection

        session.get(Connection, connection.id).settings = {"inventory_page_size": page_size}
        inventory.request_pull(session, connection.id, utcnow())
    web = stack.serve(threads=4)
    samples: list[tuple[float, float]] = []
    stop = threading.Event()
    started = time.perf_counter()

    def sample() -> None:
        while not stop.is_set():
            rss = _rss_mb(web.popen.pid)
            if rss is not None:
                samples.append((time.perf_counter() - started, rss))
            stop.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    before = len(company.request_log)
    with WebConnector(f"{web.url}/qbwc", f"pull{page_size}-qbwc", QBWC_PASSWORD, company,
                      timeout_seconds=600, sleep=lambda _s: None) as connector:
        reports = connector.run(until_idle=True, max_sessions=20)
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    pulled, listed = _items_read(company.request_log[before:])
    rss = [mb for _t, mb in samples]
    quarter = max(1, len(rss) // 4)
    result = {
        "setup": setup, "items": ITEMS, "page_size": page_size, "items_read": pulled,
        "items_read_by_list_refresh": listed,
        "round_trips": sum(r.round_trips for r in reports), "wall_seconds": round(wall, 1),
        "items_per_second": round(pulled / wall) if wall else None,
        "rss_first_quarter_mb": max(rss[:quarter]) if rss else None,
        "rss_last_quarter_mb": max(rss[-quarter:]) if rss else None,
        "peak_rss_mb": peak_rss_mb(web.popen.pid),
    }
    web.stop()
    print(f"  {setup}, pages of {page_size}: {pulled} items (+{listed} by the list refresh) in "
          f"{result['wall_seconds']} s, "
          f"{result['round_trips']} round trips, peak RSS {result['peak_rss_mb']} MB "
          f"(first quarter {result['rss_first_quarter_mb']}, last {result['rss_last_quarter_mb']})")
    return result


def run() -> dict[str, Any]:
    started = time.perf_counter()
    company = stock_company(ITEMS)
    print(f"  company with {ITEMS} items built in {time.perf_counter() - started:.1f} s")
    runs = []
    with Stack.sqlite() as stack:
        version = stack.database_version()
        for page_size in (100, 1000):
            runs.append(_pull("embedded (SQLite)", stack, page_size, company))
    info = machine.describe(version)
    notes = ["items are not mapped to store products, so the pull reads and checkpoints without queueing "
             "stock write-backs; page size 100 is the default setting (inventory_page_size)",
             "the first session also refreshes the QuickBooks item list for the pickers (ItemQuery): those "
             "items are counted apart; wall time and memory include it"]
    path = results.save(NAME, info, runs, GOALS, notes)
    print(results.table(runs, ["setup", "page_size", "items_read", "items_read_by_list_refresh",
                               "round_trips", "wall_seconds",
                               "items_per_second", "rss_first_quarter_mb", "rss_last_quarter_mb",
                               "peak_rss_mb"]))
    print(f"written {path}")
    return {"runs": runs}
