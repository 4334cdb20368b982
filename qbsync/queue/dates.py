"""Transaction dates as the shop sees them (pure, no I/O).

QuickBooks' TxnDate is a date without a time, so it must be the day where the shop is: an order placed
at 21:30 in New York on 1 March is dated 1 March, although it is already 2 March in UTC. The shop's
zone comes from the ``store_timezone`` setting (an IANA name, exact across daylight saving time); else
from the offset the order itself carries (WooCommerce's local ``date_created`` next to
``date_created_gmt``, the offset in Shopify's ``created_at``); else the date is the UTC one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qbsync.storefronts.records import Order


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (e.g. "America/New_York"); ValueError naming the setting when unknown."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"store_timezone must be an IANA time zone name such as America/New_York, not {name!r}"
        ) from exc


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        moment = datetime.fromisoformat(value.strip())
    else:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def shop_date(value: datetime | str | None, order: Order | None, settings: Mapping[str, Any]) -> date | None:
    """The date of ``value`` (a timestamp of the order: placed, paid, refunded) where the shop is
    (``order`` None: a refund of an order qbsync never stored, whose offset is unknown)."""
    moment = _moment(value)
    if moment is None:
        return None
    if settings.get("store_timezone"):
        return moment.astimezone(zone(str(settings["store_timezone"]))).date()
    offset = order.utc_offset_minutes if order is not None else None
    if offset is not None:
        return (moment.astimezone(UTC) + timedelta(minutes=offset)).date()
    return moment.astimezone(UTC).date()
