"""An order's answer links it twice (its transaction, and whose customer the sale is): a round trip of
many orders stores those links with a statement or two, not two INSERTs per order, and stores the same
rows."""

from __future__ import annotations

import json

from sqlalchemy import select

from qbsync.queue import mappings
from qbsync.storage.models import IdMapping, QueueJob
from tests.conftest import statements_run
from tests.engine.conftest import make_order


def test_a_round_trips_order_links_are_inserted_together_not_one_statement_each(shop):
    count = 40
    for n in range(1, count + 1):
        shop.feed("order", make_order(n))
    with statements_run(shop.runtime.db.engine) as run:
        reports = shop.sync()
    inserts = [s.rows for s in run if s.text.lstrip().startswith("INSERT INTO id_mappings")]

    assert not shop.jobs(QueueJob.state.not_in(("done",)))
    receipts = {t["RefNumber"]: t for t in shop.company.transactions("SalesReceipt")}
    assert len(receipts) == count
    round_trips = sum(r.round_trips for r in reports)
    # Two links per order (80) and the customers' and items' (one INSERT each before): at most one
    # statement per round trip now.
    assert len(inserts) <= round_trips < 2 * count
    with shop.runtime.db.transaction() as session:
        links = {(m.record_type, m.storefront_id): m for m in session.scalars(
            select(IdMapping).where(IdMapping.connection_id == shop.connection_id))}
    for n in range(1, count + 1):
        sale, customer = links[(mappings.ORDER, str(n))], links[(mappings.SALE_CUSTOMER, str(n))]
        receipt = receipts[sale.qb_name]
        assert (sale.qb_type, sale.qb_id, sale.edit_sequence, sale.origin, sale.manual) == (
            "SalesReceipt", receipt["TxnID"], receipt["EditSequence"], mappings.CREATED, False)
        assert sale.synced_hash and json.loads(sale.stock_held or "null") == {"101": "2"}
        assert (customer.qb_type, customer.qb_id, customer.origin) == (
            "Customer", receipt["CustomerRef"]["ListID"], mappings.FOUND)
        assert customer.qb_name == receipt["CustomerRef"]["FullName"]
