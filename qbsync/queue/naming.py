"""Names and numbers records get in QuickBooks: customer names, item names, RefNumbers, memos.

Pure functions. Every result is cleaned the way the renderer cleans it and fits its field, so the name we
remember in a mapping is exactly the name QuickBooks stores (and can be looked up by).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from qbsync.qbxml import values
from qbsync.qbxml.fields import Field
from qbsync.qbxml.limits import fit, required_max_length
from qbsync.storefronts.records import Customer, Product

CUSTOMER_NAME_LIMIT = required_max_length("CustomerAdd/Name")  # 41
ITEM_NAME_LIMIT = required_max_length("ItemInventoryAdd/Name")  # 31
ITEM_HASH_LENGTH = 6  # hex digits of the whole SKU's hash ending a cut item name
SKU_CODE_LIMIT = required_max_length("ItemInventoryAdd/BarCode/BarCodeValue")  # 50
REF_NUMBER_LIMIT = required_max_length("InvoiceAdd/RefNumber")  # 11
PLATFORM_NAMES = {"woocommerce": "WooCommerce", "shopify": "Shopify"}


def _plain(text: str) -> str:
    # A colon separates levels of a hierarchical list (Parent:Child): never part of one name.
    return " ".join(text.replace(":", "-").split())


def customer_store_name(customer: Customer, scheme: str) -> str:
    """The customer's name under ``scheme`` as the store has it, before QuickBooks' limits (see
    :func:`customer_base_name`)."""
    first, last, company, email = (
        " ".join(text.split())
        for text in (customer.first_name, customer.last_name, customer.company, customer.email)
    )
    last_first = ", ".join(p for p in (last, first) if p)
    first_last = " ".join(p for p in (first, last) if p)
    options = {
        "company": (company, last_first, email),
        "last_first": (last_first, company, email),
        "first_last": (first_last, company, email),
        "email": (email, last_first, company),
    }.get(scheme)
    if options is None:
        raise ValueError(f"unknown customer name scheme {scheme!r}")
    for option in options:
        if option and fit("CustomerAdd/Name", _plain(option)):
            return option
    return f"Customer {customer.storefront_id or 'Web customer'}"


def customer_base_name(customer: Customer, scheme: str) -> str:
    """The customer's QuickBooks name under ``scheme`` (company, last_first, first_last, email).

    Falls back along company -> 'Last, First' -> e-mail -> storefront id, so a name is never empty.
    """
    return fit("CustomerAdd/Name", _plain(customer_store_name(customer, scheme)))


def with_suffix(name: str, suffix: str, limit: int | None = CUSTOMER_NAME_LIMIT) -> str:
    """``name`` plus `` (suffix)``, the name cut so the whole fits ``limit`` and the suffix survives."""
    tail = f" ({_plain(suffix)})"
    if limit is not None and len(name) + len(tail) > limit:
        name = name[: max(0, limit - len(tail))].rstrip()
    return f"{name}{tail}".strip()


def item_name(product: Product, match: str) -> str:
    """The QuickBooks item name of a product or order line: its SKU or its name, within 31 characters.

    With ``match`` 'sku' a product without SKU falls back to its name, as merchants expect. A longer
    one is cut shorter and ends in ``~`` and a short hash of the whole text, so two products whose
    SKUs differ only after the 31st character never share one item.
    """
    return cut_item_name(item_store_name(product, match))


def cut_item_name(text: str) -> str:
    """``text`` (a product's SKU or name, or the name a setting gives a special item) as the name of a
    QuickBooks item: within 31 characters, a longer one ending in ``~`` and a short hash of the whole."""
    plain = _plain(text) or "Product ?"
    return _unique_cut("ItemInventoryAdd/Name", plain, ITEM_NAME_LIMIT, ITEM_HASH_LENGTH)


def item_name_was_cut(product: Product, match: str) -> bool:
    """Whether :func:`item_name` had to shorten the product's text (then the name alone proves nothing)."""
    return item_name(product, match) != _plain(item_store_name(product, match))


def item_store_name(product: Product, match: str) -> str:
    """The product's SKU or name (as ``match`` says) as the store has it, before QuickBooks' limits."""
    sku = " ".join((product.sku or "").split())
    name = " ".join(product.name.split())
    chosen = sku if match == "sku" and _plain(sku) else name if _plain(name) else sku
    if not _plain(chosen):
        chosen = f"Product {product.product_id or '?'}"
    return chosen


def why_renamed(store_name: str, qb_name: str, path: str, suffixes: Sequence[tuple[str, str]] = (),
                cut_note: str = "") -> str | None:
    """Why the QuickBooks name ``qb_name`` differs from the store's ``store_name``, in a bookkeeper's words
    ("cut to 41 characters; characters changed: ő → o, 😀 dropped; id suffix (42) added because …"), or
    None when QuickBooks has the store's name. ``path`` is the name's field (its length limit);
    ``suffixes`` are (text, why) of what qbsync added in brackets; ``cut_note`` ends the cut's reason."""
    store = " ".join(str(store_name).split())
    if store.casefold() == qb_name.casefold():
        return None
    reasons = []
    plain = _plain(unicodedata.normalize("NFC", store))
    folded = values.clean_text(plain)
    if folded != store:
        changed = _changed_characters(store)
        reasons.append("characters changed" + (f": {', '.join(changed)}" if changed else ""))
    limit = required_max_length(path)
    tails = "".join(f" ({_plain(text)})" for text, _ in suffixes)
    if len(folded) + len(tails) > limit:
        room = " to leave room for what is added in brackets" if tails and len(folded) <= limit else ""
        reasons.append(f"cut to {limit} characters{room}{cut_note}")
    reasons += [f"suffix ({_plain(text)}) added because {why}" for text, why in suffixes]
    return "; ".join(reasons) or None


def _changed_characters(text: str) -> list[str]:
    """What became of each character QuickBooks cannot keep in a name: 'ő → o', '😀 dropped'."""
    changed: list[str] = []
    for char in dict.fromkeys(unicodedata.normalize("NFC", text)):
        if char == ":":
            changed.append(": → - (QuickBooks separates a record from its parent with ':')")
            continue
        if char.isspace():
            continue
        kept = values.clean_text(char)
        if kept != char:
            changed.append(f"{char} → {kept}" if kept else f"{char} dropped")
    return changed


def sku_code(product: Product) -> str | None:
    """The product's full SKU as kept on its QuickBooks item (BarCodeValue, 50 characters), or None.

    A SKU longer than that is cut with a hash of the whole, like :func:`item_name`.
    """
    sku = _plain(product.sku or "")
    if not sku:
        return None
    return _unique_cut("ItemInventoryAdd/BarCode/BarCodeValue", sku, SKU_CODE_LIMIT, 8)


class Schema(Protocol):
    """What :func:`sku_fields` asks of a qbXML version's schema (``qbsync.qbxml.fields.Catalog``)."""

    def field_at(self, path: str) -> Field | None: ...


def sku_fields(request_type: str, product: Product, schema: Schema) -> dict[str, Any]:
    """Where the item add (``request_type``, e.g. "ItemInventoryAdd") keeps the product's full SKU, in
    the qbXML version whose ``schema`` is given: the proof a later look-up checks before linking.

    ``BarCode/BarCodeValue`` where the version has it (Intuit's reference: since qbXML 12.0; every
    version qbsync speaks has it); else ``ManufacturerPartNumber`` (inventory and non-inventory items)
    when the whole SKU fits its 31 characters; else nothing: the hash ending a cut name keeps the
    products apart, and such a name is then never linked by name alone. Never a field the version lacks.
    """
    code = sku_code(product)
    if not code:
        return {}
    if schema.field_at(f"{request_type}/BarCode/BarCodeValue") is not None:
        return {"BarCode": {"BarCodeValue": code}}
    part = schema.field_at(f"{request_type}/ManufacturerPartNumber")
    if part is not None and len(code) <= (part.max_length or 0):
        return {"ManufacturerPartNumber": code}
    return {}


def _unique_cut(path: str, text: str, limit: int, digits: int) -> str:
    whole = fit(path, text)
    if whole == text.strip() and len(whole) <= limit:
        return whole
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:digits]
    return f"{fit(path, text)[: limit - digits - 1].rstrip()}~{digest}"


def ref_number(number: str, prefix: str = "", suffix: str = "") -> str:
    """An order number as RefNumber: ``prefix`` + number + ``suffix`` within 11 characters.

    When too long, the number's start is dropped: the end of an order number is what tells orders apart.
    """
    number = _plain(str(number)).lstrip("#")
    room = REF_NUMBER_LIMIT - len(prefix) - len(suffix)
    if room < 1:
        raise ValueError(f"the RefNumber prefix {prefix!r} leaves no room for the order number")
    if len(number) > room:
        number = number[-room:]
    return f"{prefix}{number}{suffix}"


def memo_marks(memo: str, marker: str) -> bool:
    """Whether ``memo`` carries exactly ``marker`` (as :func:`order_memo` writes it): the marker alone or
    followed by ': note', so 'order #1' never matches 'order #1001' or 'order #10 (id 7)'."""
    memo = str(memo or "")
    return memo == marker or memo.startswith(f"{marker}: ")


def first_marked(records: list[Mapping[str, Any]], marker: str, customer_id: Any) -> Mapping[str, Any] | None:
    """The first transaction QuickBooks returned that carries ``marker`` and is the customer's, or None."""
    for record in records:
        customer = (record.get("CustomerRef") or {}).get("ListID")
        if memo_marks(str(record.get("Memo") or ""), marker) and customer == customer_id:
            return record
    return None


def order_memo(platform: str, number: str, storefront_id: str, note: str = "") -> str:
    """The memo of a sales transaction: where it came from, so a person can find the order."""
    memo = order_marker(platform, number, storefront_id)
    if note:
        memo += f": {note}"
    return fit("InvoiceAdd/Memo", memo)


def order_marker(platform: str, number: str, storefront_id: str) -> str:
    """qbsync's mark on a sales transaction's memo: 'WooCommerce order #1001', plus ' (id 7)' when the
    store's id differs from its number. Finding it exactly is the proof a transaction is the order's."""
    store = PLATFORM_NAMES.get(platform, platform.title())
    marker = f"{store} order #{number}"
    if str(storefront_id) != str(number):
        marker += f" (id {storefront_id})"
    return marker
