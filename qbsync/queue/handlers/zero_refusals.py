"""Transactions of 0.00 a company file refused, remembered per file so each kind is refused only once.

Whether QuickBooks Desktop takes a transaction whose total is 0.00 is not known (docs/SIMULATOR.md, issue
14): a credit memo of no money (stock returned without money), a sale paid in full by gift cards or store
credit. qbsync sends the first one; when the company file refuses it, the refusal is saved as a checkpoint
named for the transaction type, and later ones of that type are not sent: a credit memo's stock comes back
by an inventory adjustment instead (``returned_stock``), a sale waits for a person with the fix
(``order_plan.zero_sale_refused``). The type, not the whole company, is remembered: what QuickBooks refused
is known of that type only. The checkpoints are among ``company_file.FILE_CHECKPOINTS``: another file
(another edition or version) may take one, so a switch of company file forgets them.
"""

from __future__ import annotations

from qbsync.qbxml.parse import Response
from qbsync.queue.handlers import Context
from qbsync.storage import checkpoints

# Checkpoint per transaction type: the company file refused one of 0.00 (its value: when, and QuickBooks'
# words). The credit memo's name is the one stored before the sales were remembered too.
CHECKPOINTS = {
    "CreditMemo": "refuses_zero_credit_memos",
    "SalesReceipt": "refuses_zero_sales_receipts",
    "Invoice": "refuses_zero_invoices",
    "SalesOrder": "refuses_zero_sales_orders",
}


def remember(ctx: Context, txn_type: str, response: Response) -> None:
    """The company file refused a ``txn_type`` of 0.00 (``response``): not asked again while the connection
    keeps this file (nothing is remembered for a type qbsync does not send)."""
    name = CHECKPOINTS.get(txn_type)
    if name is not None:
        checkpoints.save(ctx.session, ctx.connection.id, name,
                         f"{ctx.now.isoformat()} {response.status_code}: {response.message}")


def refusal(ctx: Context, txn_type: str) -> str | None:
    """What the company file answered when it refused a ``txn_type`` of 0.00, in words for a person
    (when, QuickBooks' code and message); None while it has refused none."""
    name = CHECKPOINTS.get(txn_type)
    value = checkpoints.read(ctx.session, ctx.connection.id, name) if name is not None else None
    if value is None:
        return None
    when, _, said = value.partition(" ")
    return f"QuickBooks refused a {txn_type} of 0.00 from this company file on {when[:10]} ({said.strip()})"
