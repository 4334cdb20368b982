"""The REST client of a connection's storefront, built from the connection's (decrypted) API credentials.

Backfill, the missed-webhook sweep and stock write-back all reach the store through :func:`client_for`,
so a missing key is reported the same way everywhere, with what to do about it.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from qbsync.storage.models import Connection
from qbsync.storefronts.http import StorefrontSetupError
from qbsync.storefronts.shopify.client import ShopifyClient
from qbsync.storefronts.woocommerce.client import WooCommerceClient

StorefrontClient = WooCommerceClient | ShopifyClient


class MissingCredentials(StorefrontSetupError):
    """The connection has no (or incomplete) storefront API credentials; the message says what to add."""


def has_api_credentials(connection: Connection) -> bool:
    """Whether the connection holds the credentials its platform's REST API needs."""
    return not _missing(connection.platform, connection.api_credentials or {})


def client_for(connection: Connection, **options: Any) -> StorefrontClient:
    """A WooCommerce or Shopify client for ``connection``; the caller closes it (it is a context manager).

    ``options`` go to the client (``timeout``, ``retry``, ``transport``, ``sleep``...). Plain ``http://`` is
    accepted only for a store on this machine (the loopback test double): credentials never cross a network
    unencrypted. Raises :class:`MissingCredentials` naming what to add, or
    :class:`~qbsync.storefronts.http.StorefrontSetupError` for an unusable address.
    """
    credentials = connection.api_credentials or {}
    missing = _missing(connection.platform, credentials)
    if missing:
        raise MissingCredentials(
            f"Connection {connection.name!r} has no storefront API access: {missing}, "
            "so qbsync cannot read the store or write stock back."
        )
    options.setdefault("allow_http", is_loopback(connection.store_url))
    if connection.platform == "woocommerce":
        return WooCommerceClient(connection.store_url, str(credentials["consumer_key"]),
                                 str(credentials["consumer_secret"]), **options)
    if connection.platform == "shopify":
        location = str(credentials.get("location_id") or "").strip()
        if location and not location.isdigit():
            raise StorefrontSetupError(
                f"Connection {connection.name!r}: the Shopify location id {location!r} is not a number; "
                "correct it on the connection page (Settings › Locations shows it in the address bar)."
            )
        if credentials.get("api_version"):
            options.setdefault("api_version", str(credentials["api_version"]))
        return ShopifyClient(connection.store_url, str(credentials["access_token"]),
                             location_id=int(location) if location else None, **options)
    raise StorefrontSetupError(
        f"Connection {connection.name!r} is for platform {connection.platform!r}, which has no REST client."
    )


def _missing(platform: str, credentials: dict[str, Any]) -> str | None:
    """What is missing, in the words the connection page uses; None when complete."""

    def blank(key: str) -> bool:
        return not str(credentials.get(key) or "").strip()

    if platform == "woocommerce" and (blank("consumer_key") or blank("consumer_secret")):
        return ("add a consumer key and secret on the connection page (create them with Read/Write access "
                "under WooCommerce › Settings › Advanced › REST API)")
    if platform == "shopify" and blank("access_token"):
        return ("add an Admin API access token on the connection page (Shopify admin › Settings › Apps and "
                "sales channels › Develop apps › your app › API credentials)")
    return None


def is_loopback(store_url: str) -> bool:
    """Whether ``store_url`` names this machine (localhost, 127.0.0.1, ::1): a test double or the
    simulator's storefront, never a real shop."""
    host = (urlsplit(store_url if "://" in store_url else f"https://{store_url}").hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
