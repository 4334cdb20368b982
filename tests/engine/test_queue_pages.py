"""The queue pages on a real queue: orders read as orders, and the preview shows what goes next, in order."""

from __future__ import annotations

import re

import pytest

from tests.engine.conftest import make_order
from tests.engine.test_sync_errors import _signed_in
from tests.pages.conftest import text_of


@pytest.mark.parametrize("profile", ["retail", "service"])
def test_the_queue_reads_as_orders_and_the_preview_lists_what_goes_next_in_order(shop):
    shop.feed("order", make_order(1001))
    shop.feed("order", make_order(1002, paid=False))
    client = _signed_in(shop.runtime)

    page = text_of(client.get("/queue"))
    assert "order 1001 Buyer Number1 · 2024-03-01 · 24.00 USD → sales receipt" in page
    assert "order 1002 Buyer Number2 · 2024-03-01 · 24.00 USD → invoice" in page

    preview = text_of(client.get("/queue/preview"))
    assert "Nothing is sent from this page." in preview
    rows = re.findall(r"(\d+) (order \d+|customer [^·]+?|item \S+) (order|customer|item)\b", preview)
    kinds = [kind for _, _, kind in rows]
    # The customers and the item the orders need come before the orders.
    assert kinds.index("order") > max(i for i, k in enumerate(kinds) if k in ("customer", "item"))
    assert [n for n, _, _ in rows] == [str(i) for i in range(1, len(rows) + 1)]
    shop.sync()
    assert "Nothing is ready to send." in text_of(client.get("/queue/preview"))
