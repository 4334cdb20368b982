"""What a webhook delivery says about itself: topic, the headers worth keeping, its dedupe key (pure).

Only cheap reads happen here (headers, one JSON parse for the resource id and modified time): the full
normalization into records runs later, in the background, so the storefront gets its answer fast.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from qbsync.storefronts.platforms import normalizer_for
from qbsync.storefronts.records import InvalidPayload, Payload, load_payload

TOPIC_HEADERS = {"woocommerce": "X-WC-Webhook-Topic", "shopify": "X-Shopify-Topic"}

# Headers kept with a stored delivery: enough to tell where it came from and to dedupe it again.
KEPT_HEADERS = {
    "woocommerce": (
        "X-WC-Webhook-Topic", "X-WC-Webhook-Source", "X-WC-Webhook-Resource", "X-WC-Webhook-Event",
        "X-WC-Webhook-ID", "X-WC-Webhook-Delivery-ID", "User-Agent", "Content-Type",
    ),
    "shopify": (
        "X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Event-Id", "X-Shopify-Webhook-Id",
        "X-Shopify-Triggered-At", "X-Shopify-API-Version", "X-Shopify-Name", "X-Shopify-Sub-Topic",
        "User-Agent", "Content-Type",
    ),
}
# The record types qbsync syncs, and the normalizer function that reads each from a payload.
SYNCED_RECORDS = {
    "order": "order",
    "customer": "customer",
    "product": "products",  # a list: a product and its variants
    "refund": "refund",
    "stock": "stock_level",
}
_MAX_HEADER_CHARS = 500
_MAX_DEDUPE_KEY = 255  # webhook_deliveries.dedupe_key
_PING_RE = re.compile(rb"^webhook_id=\d{1,20}$")


@dataclass(frozen=True)
class Envelope:
    """A verified delivery, read just enough to store and dedupe it."""

    platform: str
    topic: str | None
    headers: dict[str, str]
    body: bytes
    dedupe_key: str
    resource_type: str | None = None
    resource_id: str | None = None
    resource_modified_at: datetime | None = None
    # Set when the body is unusable: the delivery is kept as "invalid" and answered 400.
    problem: str | None = None
    # Set when the topic is one qbsync does not sync: kept as "ignored" and answered 200.
    ignored: str | None = None


def kept_headers(platform: str, headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The delivery headers worth storing, under their canonical names (lookup is case-insensitive)."""
    wanted = {name.lower(): name for name in KEPT_HEADERS[platform]}
    kept: dict[str, str] = {}
    for name, value in headers:
        canonical = wanted.get(name.lower())
        if canonical is not None and canonical not in kept:
            kept[canonical] = value[:_MAX_HEADER_CHARS]
    return kept


def is_woocommerce_ping(headers: dict[str, str], body: bytes) -> bool:
    """WooCommerce's creation ping: form body ``webhook_id=N`` with no topic header (and no signature)."""
    return "X-WC-Webhook-Topic" not in headers and _PING_RE.match(body.strip()) is not None


def parse_payload(body: bytes) -> dict[str, Any]:
    """The JSON object in ``body`` (decimals kept exact); :class:`InvalidPayload` if it is anything else."""
    try:
        return load_payload(body)
    except RecursionError as exc:  # absurdly deep nesting
        raise InvalidPayload("body: JSON nested too deeply") from exc


def read_envelope(platform: str, headers: dict[str, str], body: bytes) -> Envelope:
    """Read a signed delivery: its topic, resource and modified time. Never raises for bad input:
    an unusable body gives an envelope with ``problem`` set, an unsynced topic one with ``ignored``."""
    topic = headers.get(TOPIC_HEADERS[platform]) or None

    def invalid(reason: str) -> Envelope:
        return Envelope(platform=platform, topic=topic, headers=headers, body=body,
                        dedupe_key=invalid_dedupe_key(platform, headers, body), problem=reason)

    if topic is None:
        return invalid(f"missing {TOPIC_HEADERS[platform]} header")
    try:
        payload = parse_payload(body)
    except InvalidPayload as exc:
        return invalid(str(exc))
    normalizer = normalizer_for(platform)
    resource = _resource_of_topic(normalizer, topic)
    if resource is None:
        return Envelope(platform=platform, topic=topic, headers=headers, body=body,
                        dedupe_key=dedupe_key(platform, headers, body, None),
                        ignored=f"topic {topic!r} is not synced by qbsync")
    resource_type, _event = resource
    if resource_type not in SYNCED_RECORDS:
        return Envelope(platform=platform, topic=topic, headers=headers, body=body,
                        dedupe_key=dedupe_key(platform, headers, body, None),
                        ignored=f"topic {topic!r} is not synced by qbsync")
    resource = resource_payload(topic, payload)
    if resource is None:
        return Envelope(platform=platform, topic=topic, headers=headers, body=body,
                        dedupe_key=dedupe_key(platform, headers, body, None),
                        ignored=f"topic {topic!r} names no record (its 'arg' is not an object with an id); "
                                "the change arrives with product.updated and the missed-webhook sweep")
    try:
        resource_id = resource_id_of(resource_type, resource)
        modified = normalizer.modified_at(resource_type, resource)
    except ValueError as exc:  # InvalidPayload is a ValueError
        return invalid(str(exc))
    return Envelope(
        platform=platform, topic=topic, headers=headers, body=body,
        dedupe_key=dedupe_key(platform, headers, body, resource_id),
        resource_type=resource_type, resource_id=resource_id,
        resource_modified_at=naive_utc(modified),
    )


def resource_payload(topic: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON object describing the record: the body itself, or for a WooCommerce ``action.*`` topic
    (body ``{"action": ..., "arg": ...}``) its ``arg`` when that is an object with an id, else None."""
    if not topic.startswith("action."):
        return payload
    arg = payload.get("arg")
    if isinstance(arg, dict) and arg.get("id") not in (None, "", 0):
        return arg
    return None


def resource_id_of(resource_type: str, payload: dict[str, Any]) -> str:
    """The storefront id a payload is about; :class:`InvalidPayload` when it has none.

    Every synced payload carries ``id``, except a Shopify inventory level, which is keyed by its
    inventory item and location (as ``qbsync.queue.intake.record_id_of`` keys the stock record).
    """
    fields = Payload(payload)
    if resource_type == "stock" and not fields.has("id") and fields.has("inventory_item_id"):
        location = fields.optional_id("location_id")
        item = fields.id("inventory_item_id")
        return f"{item}@{location}" if location else item
    return fields.id("id")


def naive_utc(moment: datetime | None) -> datetime | None:
    """An aware time as the naive UTC the tables store (naive times are taken as UTC already)."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _resource_of_topic(normalizer: Any, topic: str) -> tuple[str, str] | None:
    try:
        resource = normalizer.resource_of_topic(topic)
    except (InvalidPayload, KeyError, ValueError):
        return None
    return tuple(resource) if resource else None  # type: ignore[return-value]


SHOP_HEADER = "X-Shopify-Shop-Domain"


def shopify_shop_of(store_url: str) -> str | None:
    """The ``<shop>.myshopify.com`` domain a Shopify connection's store URL names, or None if it names
    another host (a custom domain, a test double): Shopify sends that domain in every delivery."""
    host = (urlsplit(store_url if "://" in store_url else f"https://{store_url}").hostname or "").lower()
    return host if host.endswith(".myshopify.com") else None


def wrong_shop(headers: dict[str, str], shop: str | None, store_url: str) -> str | None:
    """Why a signed Shopify delivery is refused for this connection, or None when its shop is the
    connection's.

    One app secret signs for every shop that installed the app, and ``X-Shopify-Shop-Domain`` is not
    signed: a delivery for another shop, or one with the header removed, must not be stored under this
    connection. The shop is the connection's (its store URL), never the header's.
    """
    given = headers.get(SHOP_HEADER, "").strip().lower()
    if not given:
        return f"missing {SHOP_HEADER} header: Shopify names the shop in every delivery"
    if shop is None:
        return (f"the connection's store URL {store_url!r} is not a <shop>.myshopify.com address, so "
                f"the delivery from {given!r} cannot be checked: set the store URL to https://{given} "
                "if that is this connection's shop (`qbsync connection set-store-url`)")
    if given != shop:
        return f"delivery from shop {given!r}, but this connection is for {shop!r}"
    return None


def body_sha256(body: bytes) -> str:
    """Hex SHA-256 of the body, for dedupe keys and inspection."""
    return hashlib.sha256(body).hexdigest()


def dedupe_key(platform: str, headers: dict[str, str], body: bytes, resource_id: str | None) -> str:
    """The identity of this event, the same for every redelivery of it.

    Shopify: shop + topic + ``X-Shopify-Event-Id`` (``X-Shopify-Webhook-Id`` if absent). WooCommerce has
    no event id (``X-WC-Webhook-Delivery-ID`` is a per-second hash of webhook id and time), so the key adds
    the resource id and the body's hash: two different payloads in one second stay two deliveries.
    """
    if platform == "shopify":
        topic = headers.get("X-Shopify-Topic", "")
        shop = headers.get("X-Shopify-Shop-Domain", "")
        if headers.get("X-Shopify-Event-Id"):
            identity = "event:" + headers["X-Shopify-Event-Id"]
        elif headers.get("X-Shopify-Webhook-Id"):
            identity = "webhook:" + headers["X-Shopify-Webhook-Id"]
        else:
            identity = "body:" + body_sha256(body)
        parts = ["shopify", shop, topic, identity]
    else:
        parts = [
            "woocommerce",
            headers.get("X-WC-Webhook-Source", ""),
            headers.get("X-WC-Webhook-Topic", ""),
            resource_id or "",
            headers.get("X-WC-Webhook-Delivery-ID", ""),
            body_sha256(body),
        ]
    key = "|".join(parts)
    if len(key) > _MAX_DEDUPE_KEY:
        key = f"{platform}|sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    return key


def invalid_dedupe_key(platform: str, headers: dict[str, str], body: bytes) -> str:
    """Key for a delivery kept as invalid: a retry of the same broken delivery is not stored twice."""
    identity = dedupe_key(platform, headers, body, None)
    return f"{platform}|invalid|{hashlib.sha256(identity.encode()).hexdigest()}"


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "…"
