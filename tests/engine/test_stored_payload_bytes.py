"""What is already in the queue keeps being sent byte for byte: an item's add and a cancellation's
reversing credit memo built from job payloads as the database stores them (JSON written by an earlier
version), so reading them through the typed records changes nothing QuickBooks receives, and an item
synced before gets no Mod for a fingerprint computed another way."""

from __future__ import annotations

from datetime import UTC, datetime

from qbsync.qbxml.parse import parse_response
from qbsync.queue import handlers, mappings
from qbsync.queue import jobs as queue
from qbsync.queue.handlers.cancellations import CANCELLATION
from qbsync.queue.handlers.items import fingerprint
from qbsync.queue.settings import SyncSettings
from qbsync.storage.models import Connection, QueueJob
from qbsync.storefronts.records import Product

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)

# A product job's payload as stored (Product.to_dict() JSON: money as strings, times ISO 8601).
STORED_PRODUCT = {
    "product_id": "101", "variant_id": None, "parent_id": None, "sku": "MUG-RED", "name": "Red mug",
    "description": "A red mug", "price": "9.50", "cost": "3.20", "manages_stock": True,
    "stock_quantity": "10", "taxable": True, "active": True, "modified_at": "2026-12-01T10:00:00+00:00",
    "inventory_item_id": None, "kind": "inventory", "meta_numbers": None,
}
# A product known only from an order line (intake.line_product): what such a job stores.
FROM_ORDER_LINE = {"product_id": "", "variant_id": None, "sku": "CUP-BLUE", "name": "Blue cup",
                   "price": "4.25", "kind": "non_inventory"}
ITEM_ADD = """\
<ItemInventoryAddRq requestID="7">
  <ItemInventoryAdd>
    <Name>MUG-RED</Name>
    <BarCode>
      <BarCodeValue>MUG-RED</BarCodeValue>
    </BarCode>
    <SalesDesc>Red mug</SalesDesc>
    <SalesPrice>9.5</SalesPrice>
    <IncomeAccountRef><FullName>Merchandise Sales</FullName></IncomeAccountRef>
    <PurchaseCost>3.2</PurchaseCost>
    <COGSAccountRef><FullName>Cost of Goods Sold</FullName></COGSAccountRef>
    <AssetAccountRef><FullName>Inventory Asset</FullName></AssetAccountRef>
    <QuantityOnHand>10</QuantityOnHand>
    <TotalValue>32.00</TotalValue>
    <InventoryDate>2026-11-30</InventoryDate>
  </ItemInventoryAdd>
</ItemInventoryAddRq>"""
NON_INVENTORY_ADD = """\
<ItemNonInventoryAddRq requestID="7">
  <ItemNonInventoryAdd>
    <Name>CUP-BLUE</Name>
    <BarCode>
      <BarCodeValue>CUP-BLUE</BarCodeValue>
    </BarCode>
    <SalesOrPurchase>
      <Desc>Blue cup</Desc>
      <Price>4.25</Price>
      <AccountRef><FullName>Merchandise Sales</FullName></AccountRef>
    </SalesOrPurchase>
  </ItemNonInventoryAdd>
</ItemNonInventoryAddRq>"""


def _context(session, connection_id: int) -> handlers.Context:
    connection = session.get(Connection, connection_id)
    settings = SyncSettings(connection.settings)
    return handlers.Context(session, connection, settings, "13.0", NOW, request_id="7")


def _job(runtime, connection_id: int, kind: str, payload: dict, record_id: str) -> int:
    with runtime.db.transaction() as session:
        return queue.enqueue(session, connection_id, kind, payload, record_type=kind, record_id=record_id,
                             label=f"{kind} {record_id}").id


def _fragment(built: object) -> str:
    assert isinstance(built, handlers.Request), built
    return built.fragment


def test_an_item_add_from_a_stored_product_payload_is_sent_byte_for_byte(runtime, make_connection):
    connection_id = make_connection("bytes").id
    product = _job(runtime, connection_id, "item", {"record": STORED_PRODUCT}, "101")
    from_line = _job(runtime, connection_id, "item", {"record": FROM_ORDER_LINE, "from_order": True},
                     "sku:cup-blue")
    with runtime.db.transaction() as session:
        ctx = _context(session, connection_id)
        for job_id, expected in ((product, ITEM_ADD), (from_line, NON_INVENTORY_ADD)):
            job = session.get(QueueJob, job_id)
            handlers.set_progress(job, next="add")  # after the look-up found no item of that name
            built = _fragment(handlers.handler_for("item").build(ctx, job))
            assert built == expected
    # What a link made before remembers of the product: equal, so nothing is sent to QuickBooks again.
    linked_before = "fa4caca403ca985712cdd724774147d09d7e4dfa0514eaf290805757a6f45150"
    assert fingerprint(Product.from_dict(STORED_PRODUCT)) == linked_before


# A cancelled order's job payload as stored (Order.to_dict() JSON, fields at their defaults left out):
# paid by invoice, one of its two mugs refunded and restocked before the store cancelled and restocked it.
# (Its reversal credits the mug coming back at the sale's 9.50 and the rest of the line without a quantity,
# since the cancellation split lines at the sale's rate; the typed records change nothing in it.)
STORED_CANCELLED_ORDER = {
    "storefront_id": "2201", "number": "2201", "status": "cancelled", "currency": "USD",
    "created_at": "2026-11-20T09:00:00+00:00", "modified_at": "2026-11-29T09:00:00+00:00",
    "cancelled_at": "2026-11-28T23:30:00+00:00", "restocked_on_cancel": True, "paid": True,
    "customer": {"storefront_id": "42", "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee"},
    "lines": [{"id": "1", "product_id": "101", "sku": "MUG-RED", "name": "Red mug", "quantity": "2",
               "unit_price": "9.50", "subtotal": "19.00", "total": "19.00"}],
    "refunds": [{"storefront_id": "r1", "amount": "9.50", "lines": [
        {"line_id": "1", "product_id": "101", "sku": "MUG-RED", "quantity": "1", "amount": "9.50",
         "restock": True}]}],
    "total": "19.00",
}
INVOICE = """<?xml version="1.0"?><QBXML><QBXMLMsgsRs>
<InvoiceQueryRs requestID="1" statusCode="0" statusSeverity="Info" statusMessage="Status OK"><InvoiceRet>
<TxnID>T-1</TxnID><EditSequence>1</EditSequence><RefNumber>2201</RefNumber>
<CustomerRef><ListID>C-42</ListID><FullName>Lee, Ann</FullName></CustomerRef>
<Subtotal>19.00</Subtotal><SalesTaxTotal>0.00</SalesTaxTotal><AppliedAmount>-19.00</AppliedAmount>
<BalanceRemaining>0.00</BalanceRemaining>
<InvoiceLineRet><TxnLineID>L-1</TxnLineID><ItemRef><ListID>I-101</ListID><FullName>MUG-RED</FullName></ItemRef>
<Desc>Red mug</Desc><Quantity>2</Quantity><Rate>9.50</Rate><Amount>19.00</Amount>
<SalesTaxCodeRef><ListID>NON-1</ListID><FullName>Non</FullName></SalesTaxCodeRef></InvoiceLineRet>
</InvoiceRet></InvoiceQueryRs></QBXMLMsgsRs></QBXML>"""
REVERSAL = """\
<CreditMemoAddRq requestID="7">
  <CreditMemoAdd>
    <CustomerRef><ListID>C-42</ListID></CustomerRef>
    <TxnDate>2026-11-28</TxnDate>
    <RefNumber>C2201</RefNumber>
    <Memo>WooCommerce cancellation of order #2201: reverses what remains of Invoice 2201</Memo>
    <CreditMemoLineAdd>
      <ItemRef><ListID>I-101</ListID></ItemRef>
      <Desc>Cancelled, back in stock: Red mug</Desc>
      <Quantity>1</Quantity>
      <Amount>9.50</Amount>
      <SalesTaxCodeRef><ListID>NON-1</ListID></SalesTaxCodeRef>
    </CreditMemoLineAdd>
    <CreditMemoLineAdd>
      <ItemRef><ListID>I-101</ListID></ItemRef>
      <Desc>Cancelled: Red mug</Desc>
      <Amount>9.50</Amount>
      <SalesTaxCodeRef><ListID>NON-1</ListID></SalesTaxCodeRef>
    </CreditMemoLineAdd>
    <CreditMemoLineAdd>
      <ItemRef><FullName>Rounding</FullName></ItemRef>
      <Desc>Refunded before the cancellation</Desc>
      <Amount>-9.50</Amount>
      <SalesTaxCodeRef><FullName>Non</FullName></SalesTaxCodeRef>
    </CreditMemoLineAdd>
  </CreditMemoAdd>
</CreditMemoAddRq>"""

PART_REVERSAL = """\
<CreditMemoAddRq requestID="7">
  <CreditMemoAdd>
    <CustomerRef><ListID>C-42</ListID></CustomerRef>
    <RefNumber>C2201</RefNumber>
    <Memo>WooCommerce cancellation of order #2201: reverses what remains of Invoice 2201</Memo>
    <CreditMemoLineAdd>
      <ItemRef><ListID>I-101</ListID></ItemRef>
      <Desc>Cancelled: Red mug</Desc>
      <Amount>19.00</Amount>
      <SalesTaxCodeRef><ListID>NON-1</ListID></SalesTaxCodeRef>
    </CreditMemoLineAdd>
    <CreditMemoLineAdd>
      <ItemRef><FullName>Rounding</FullName></ItemRef>
      <Desc>Refunded before the cancellation</Desc>
      <Amount>-9.50</Amount>
      <SalesTaxCodeRef><FullName>Non</FullName></SalesTaxCodeRef>
    </CreditMemoLineAdd>
  </CreditMemoAdd>
</CreditMemoAddRq>"""


def _reversal(runtime, connection_id: int, payload: dict) -> str:
    """The reversing credit memo the order job with ``payload`` sends for its sale (invoice T-1)."""
    job_id = _job(runtime, connection_id, "order", payload, "2201")
    with runtime.db.transaction() as session:
        ctx = _context(session, connection_id)
        mappings.link(session, connection_id, mappings.PRODUCT, "101", qb_type="ItemInventory", qb_id="I-101",
                      qb_name="MUG-RED", origin=mappings.CREATED)
        mappings.link(session, connection_id, mappings.ORDER, "2201", qb_type="Invoice", qb_id="T-1",
                      qb_name="2201", edit_sequence="1", origin=mappings.CREATED)
        job = session.get(QueueJob, job_id)
        handler = handlers.handler_for("order")
        recheck = handler.build(ctx, job)
        assert isinstance(recheck, handlers.Request) and recheck.step == "recheck", recheck
        job.step = "recheck"
        read = CANCELLATION.apply(ctx, job, next(iter(parse_response(INVOICE))))
        assert isinstance(read, handlers.Again), read
        handlers.set_progress(job, next="reverse")  # the look-up found no credit memo of ours
        built = handler.build(ctx, job)
        session.rollback()
    return _fragment(built)


def test_a_cancellation_from_a_stored_order_payload_is_sent_byte_for_byte(runtime, make_connection):
    connection_id = make_connection("bytes").id
    built = _reversal(runtime, connection_id, {"record": STORED_CANCELLED_ORDER, "event": "updated"})
    assert built == REVERSAL


def test_a_deleted_order_known_only_in_part_is_reversed_with_what_is_known(runtime, make_connection):
    """A deleted order's job carries only what was last stored of it: here its number and refunds. Its
    reversal is dated by no made-up day (QuickBooks takes today), and nothing goes back to stock the
    store did not say it restocked (restock_unknown_cancellations is off)."""
    connection_id = make_connection("bytes").id
    known = {k: STORED_CANCELLED_ORDER[k] for k in ("number", "storefront_id", "refunds")}
    built = _reversal(runtime, connection_id, {"record": known, "event": "deleted"})
    assert built == PART_REVERSAL
