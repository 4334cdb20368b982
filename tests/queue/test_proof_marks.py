"""The pure proof checks: qbsync's memo mark matches exactly, and a found transaction is the order's only
with the mark, the customer and the total."""

from __future__ import annotations

from qbsync.queue.handlers.orders import is_ours, proof_of
from qbsync.queue.naming import memo_marks, order_marker, order_memo

PROOF = proof_of(
    {"CustomerRef": {"ListID": "C-1"}, "lines": [{"Amount": "19.00"}, {"Amount": "5.00"}]},
    order_marker("woocommerce", "1", "1"),
)


def test_the_mark_is_the_memo_or_its_start_before_a_note():
    marker = order_marker("woocommerce", "1", "1")
    assert memo_marks(order_memo("woocommerce", "1", "1"), marker)
    assert memo_marks(order_memo("woocommerce", "1", "1", "gift wrap"), marker)
    assert not memo_marks("WooCommerce order #1001", marker)
    assert not memo_marks("WooCommerce order #10 (id 7)", marker)
    assert not memo_marks("VOID: WooCommerce order #1", marker)
    assert not memo_marks("copied from WooCommerce order #1", marker)


def test_the_mark_names_the_store_id_when_it_differs_from_the_number():
    assert order_marker("shopify", "1001", "450789469") == "Shopify order #1001 (id 450789469)"
    assert not memo_marks("Shopify order #1001", order_marker("shopify", "1001", "450789469"))


def test_a_found_transaction_is_ours_only_with_mark_customer_and_total():
    ours = {"Memo": "WooCommerce order #1", "CustomerRef": {"ListID": "C-1"}, "Subtotal": "24.00"}
    assert is_ours(ours, PROOF)
    assert not is_ours({**ours, "Memo": "counter sale"}, PROOF)
    assert not is_ours({**ours, "CustomerRef": {"ListID": "C-2"}}, PROOF)
    assert not is_ours({**ours, "Subtotal": "24.01"}, PROOF)
    assert not is_ours({**ours, "Subtotal": None}, PROOF)
