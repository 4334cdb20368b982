"""Which normalizer reads which storefront platform's JSON.

``normalizer_for(connection.platform)`` gives an object with the same functions for every platform,
so webhook receivers, backfill and the missed-webhook sweep never branch on the platform themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from qbsync.storefronts.records import Customer, Order, Product, Refund, StockLevel
from qbsync.storefronts.shopify import normalize as shopify
from qbsync.storefronts.woocommerce import normalize as woocommerce


class Normalizer(Protocol):
    """What each platform's ``normalize`` module provides (see the modules for platform details)."""

    def order(self, payload: Mapping[str, Any]) -> Order: ...

    def order_refunds(self, payload: Mapping[str, Any]) -> list[Refund]: ...

    def customer(self, payload: Mapping[str, Any]) -> Customer: ...

    def products(self, payload: Mapping[str, Any]) -> list[Product]: ...

    def product_variation(
        self, payload: Mapping[str, Any], parent: Mapping[str, Any] | None = None
    ) -> Product: ...

    def variation_ids_to_fetch(self, payload: Mapping[str, Any]) -> list[str]: ...

    def refund(self, payload: Mapping[str, Any], order_id: str | int | None = None) -> Refund: ...

    def stock_level(self, payload: Mapping[str, Any]) -> StockLevel: ...

    def modified_at(self, resource_type: str, payload: Mapping[str, Any]) -> datetime | None: ...

    def resource_of_topic(self, topic: str) -> tuple[str, str]: ...


_NORMALIZERS: dict[str, Normalizer] = {
    "woocommerce": woocommerce,  # type: ignore[dict-item]  # a module satisfies the protocol
    "shopify": shopify,  # type: ignore[dict-item]
}

PLATFORMS: tuple[str, ...] = tuple(_NORMALIZERS)


def normalizer_for(platform: str) -> Normalizer:
    """The normalizer of a platform name as stored on a connection ("woocommerce", "shopify");
    raise ValueError naming the known platforms for anything else."""
    found = _NORMALIZERS.get(platform.strip().lower()) if isinstance(platform, str) else None
    if found is None:
        raise ValueError(f"unknown storefront platform {platform!r}; expected one of {', '.join(PLATFORMS)}")
    return found
