"""Webhook signatures: base64 HMAC-SHA256 of the exact request bytes (pure, no I/O).

WooCommerce and Shopify sign the same way; only the header name and the key differ. Always verify over the
raw bytes as received: re-serializing parsed JSON changes escaping and breaks the signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
from collections.abc import Iterable

SIGNATURE_HEADERS = {
    "woocommerce": "X-WC-Webhook-Signature",
    "shopify": "X-Shopify-Hmac-Sha256",
}


def sign(secret: str, body: bytes) -> str:
    """The signature header value a storefront sends for ``body`` signed with ``secret``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def candidate_secrets(platform: str, secrets: Iterable[str | None]) -> list[str]:
    """The keys a delivery may be signed with: the current and previous secrets, in that order.

    WooCommerce signs with its stored secret after ``wp_specialchars_decode`` (a secret saved as
    ``a&amp;b`` signs with ``a&b``), so for WooCommerce the entity-decoded form is tried as well.
    """
    keys: list[str] = []
    for secret in secrets:
        if not secret:
            continue
        variants = [secret]
        if platform == "woocommerce":
            variants.append(html.unescape(secret))
        for key in variants:
            if key not in keys:
                keys.append(key)
    return keys


def signature_matches(body: bytes, given: str | None, secrets: Iterable[str]) -> bool:
    """Whether ``given`` is the signature of ``body`` under any of ``secrets`` (constant-time compare)."""
    if not given:
        return False
    presented = given.strip().encode("ascii", errors="replace")
    matched = False
    for secret in secrets:
        # Check every key (no early exit) so timing does not reveal which secret is in use.
        matched |= hmac.compare_digest(sign(secret, body).encode("ascii"), presented)
    return matched
