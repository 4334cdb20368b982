"""Inventory both ways: store stock changes become inventory adjustments (store as master); QuickBooks
quantities are pulled page by page and changed ones written back to the store (QuickBooks as master)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from lxml import etree

from qbsync.queue import inventory
from qbsync.simulator.company import QuickBooksCompany
from qbsync.simulator.storefront import StorefrontDouble
from qbsync.storage.models import Checkpoint, QueueJob
from qbsync.storefronts.records import Product, StockLevel
from tests.accounting import check_stock
from tests.engine.conftest import account_of_type

WRITEBACK = QueueJob.kind == "stock_writeback"
# Every test runs on the two inventory companies: retail and the same shop with multicurrency on.


def _stocked(n: int, quantity: int = 10) -> Product:
    return Product(
        product_id=str(200 + n),
        sku=f"SKU-{n}",
        name=f"Product {n}",
        price=Decimal("4.00"),
        manages_stock=True,
        stock_quantity=Decimal(quantity),
        kind="inventory",
    )


def _set_quantity(shop, sku: str, quantity: int) -> None:
    shop.in_quickbooks(
        "InventoryAdjustmentAdd",
        {
            "AccountRef": {"FullName": account_of_type(shop.company, "CostOfGoodsSold")},
            "InventoryAdjustmentLineAdd": [
                {"ItemRef": {"FullName": sku}, "QuantityAdjustment": {"NewQuantity": quantity}}
            ],
        },
    )


@pytest.mark.parametrize("profile", ["retail", "multicurrency"])
def test_a_pull_across_several_pages_queues_write_backs_only_for_changed_products(shop):
    shop.configure(inventory_page_size=3, inventory_full_pull_hours=0)
    for n in range(7):
        shop.feed("product", _stocked(n))
    shop.sync()
    assert not shop.jobs(WRITEBACK), "a fresh pull finds QuickBooks and the store agreeing"

    _set_quantity(shop, "SKU-2", 7)
    _set_quantity(shop, "SKU-5", 15)
    sent_before = len(shop.requests("ItemInventoryQueryRq"))
    shop.pull_is_due()
    shop.sync()

    pages = [etree.fromstring(r.encode()) for r in shop.requests("ItemInventoryQueryRq")[sent_before:]]
    assert [p.get("iterator") for p in pages] == ["Start", "Continue", "Continue"]
    assert len({p.get("iteratorID") for p in pages[1:]}) == 1
    written = {j.payload["sku"]: j.payload["quantity"] for j in shop.jobs(WRITEBACK)}
    assert written == {"SKU-2": "7", "SKU-5": "15"}
    (job,) = [j for j in shop.jobs(WRITEBACK) if j.payload["sku"] == "SKU-2"]
    assert job.payload["product_id"] == "202" and job.state == "pending"
    shop.assert_every_request_valid()


@pytest.mark.parametrize("profile", ["retail", "multicurrency"])
def test_incremental_pulls_start_before_the_checkpoint_in_quickbooks_own_form(shop):
    shop.feed("product", _stocked(1))
    shop.sync()
    item = shop.company.find("ItemInventory", "SKU-1")
    with shop.runtime.db.transaction() as session:
        stored = session.get(Checkpoint, (shop.connection_id, inventory.CHECKPOINT)).value
    assert stored == item["TimeModified"]  # as QuickBooks wrote it, offset and all

    _set_quantity(shop, "SKU-1", 3)
    shop.in_quickbooks(
        "ItemInventoryMod",
        {"ListID": item["ListID"], "EditSequence": item["EditSequence"], "SalesPrice": "4.50"},
    )
    shop.pull_is_due()
    shop.sync()

    last = etree.fromstring(shop.requests("ItemInventoryQueryRq")[-1].encode())
    sent_from = last.findtext("FromModifiedDate")
    assert sent_from.endswith(item["TimeModified"][-6:])  # QuickBooks' own offset
    assert datetime.fromisoformat(sent_from) == datetime.fromisoformat(stored) - inventory.OVERLAP
    assert {j.payload["sku"]: j.payload["quantity"] for j in shop.jobs(WRITEBACK)} == {"SKU-1": "3"}


class _Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


@pytest.mark.parametrize("profile", ["retail", "multicurrency"])
def test_a_summer_change_right_after_the_checkpoint_is_pulled(make_shop, profile):
    """QuickBooks on a New York machine in July writes 10:00 EDT as 10:00-05:00 and reads a filter's clock
    time as local: the change made half an hour after the last one seen must still be read."""
    clock = _Clock(datetime(2024, 7, 1, 14, 0, tzinfo=UTC))  # 10:00 EDT
    shop = make_shop(company=QuickBooksCompany(profile=profile, zone="America/New_York", clock=clock))
    shop.feed("product", _stocked(1))
    shop.sync()
    item = shop.company.find("ItemInventory", "SKU-1")
    assert item["TimeModified"] == "2024-07-01T10:00:00-05:00"  # clock time with the standard offset

    clock.moment += timedelta(minutes=30)
    _set_quantity(shop, "SKU-1", 3)
    shop.in_quickbooks(
        "ItemInventoryMod",
        {"ListID": item["ListID"], "EditSequence": item["EditSequence"], "SalesPrice": "4.50"},
    )
    shop.pull_is_due()
    shop.sync()

    assert {j.payload["sku"]: j.payload["quantity"] for j in shop.jobs(WRITEBACK)} == {"SKU-1": "3"}


@pytest.mark.parametrize("profile", ["retail", "multicurrency"])
def test_changes_in_the_hour_that_repeats_when_daylight_saving_time_ends_are_pulled(make_shop, profile):
    clock = _Clock(datetime(2024, 11, 3, 5, 50, tzinfo=UTC))  # 01:50 EDT, before the clocks go back
    shop = make_shop(company=QuickBooksCompany(profile=profile, zone="America/New_York", clock=clock))
    shop.feed("product", _stocked(1))
    shop.sync()
    item = shop.company.find("ItemInventory", "SKU-1")

    clock.moment += timedelta(minutes=30)  # 01:20 EST: an earlier clock time, a later moment
    _set_quantity(shop, "SKU-1", 3)
    shop.in_quickbooks(
        "ItemInventoryMod",
        {"ListID": item["ListID"], "EditSequence": item["EditSequence"], "SalesPrice": "4.50"},
    )
    shop.pull_is_due()
    shop.sync()

    assert {j.payload["sku"]: j.payload["quantity"] for j in shop.jobs(WRITEBACK)} == {"SKU-1": "3"}


@pytest.mark.parametrize("profile", ["retail", "multicurrency"])
def test_store_stock_changes_become_inventory_adjustments_when_the_store_is_master(shop):
    shop.configure(stock_master="storefront")
    counted = datetime(2024, 2, 1, tzinfo=UTC)
    shop.feed("product", dataclasses.replace(_stocked(1, quantity=10), modified_at=counted))
    shop.sync()
    level = StockLevel(
        product_id="201", sku="SKU-1", quantity=Decimal(4), modified_at=datetime(2024, 3, 1, tzinfo=UTC)
    )
    shop.feed("stock", level)
    shop.sync()
    shop.feed(
        "stock",
        StockLevel(
            product_id="201", sku="SKU-1", quantity=Decimal(4), modified_at=datetime(2024, 3, 2, tzinfo=UTC)
        ),
    )
    shop.sync()

    assert shop.company.quantity_on_hand("SKU-1") == Decimal(4)
    check_stock(shop.company, {"SKU-1": 4})
    (adjustment,) = shop.requests("InventoryAdjustmentAddRq")
    assert "<QuantityDifference>-6</QuantityDifference>" in adjustment  # a difference, never "set to"
    assert not shop.requests("ItemInventoryQueryRq"), "the store is the master: nothing is pulled"
    shop.assert_every_request_valid()


@pytest.mark.parametrize("profile", ["retail", "multicurrency"])
def test_quickbooks_quantities_are_written_back_to_the_store(make_shop, profile):
    with StorefrontDouble() as store:
        store.add_products(
            [
                {
                    "id": 201,
                    "sku": "SKU-1",
                    "name": "Product 1",
                    "type": "simple",
                    "manage_stock": True,
                    "stock_quantity": 10,
                }
            ],
            "woocommerce",
        )
        shop = make_shop(
            store_url=store.base_url,
            api_credentials={"consumer_key": store.consumer_key, "consumer_secret": store.consumer_secret},
            profile=profile,
        )
        shop.configure(inventory_full_pull_hours=0)
        shop.feed("product", _stocked(1, quantity=10))
        shop.sync()
        _set_quantity(shop, "SKU-1", 6)
        shop.pull_is_due()
        shop.sync()
        shop.runtime.dispatcher.shutdown(wait=True)  # the write-back runs on the background pool

        assert store.product(201)["stock_quantity"] == 6
        (job,) = shop.jobs(WRITEBACK)
        assert job.state == "done" and "stock set to 6" in job.last_message
