"""Hand-written qbXML request documents for the simulator tests (independent of qbsync.qbxml.render)."""

from __future__ import annotations

from lxml import etree


def message(*requests: str, on_error: str = "stopOnError", version: str = "13.0") -> str:
    """A whole qbXML request document holding ``requests`` (each an ``<XxxRq>`` element as text)."""
    body = "".join(requests)
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="{version}"?>\n'
        f'<QBXML><QBXMLMsgsRq onError="{on_error}">{body}</QBXMLMsgsRq></QBXML>'
    )


def responses(document: str) -> list[etree._Element]:
    """The Rs elements of a response document, in order."""
    root = etree.fromstring(document.encode())
    return list(root.find("QBXMLMsgsRs"))


def status(rs: etree._Element) -> tuple[int, str, str]:
    """(statusCode, statusSeverity, statusMessage) of one Rs."""
    return int(rs.get("statusCode")), rs.get("statusSeverity"), rs.get("statusMessage")


def customer_add(name: str, request_id: str = "1", extra: str = "") -> str:
    return (
        f'<CustomerAddRq requestID="{request_id}"><CustomerAdd><Name>{name}</Name>{extra}'
        "</CustomerAdd></CustomerAddRq>"
    )


def inventory_add(name: str, price: str = "10.00", on_hand: str | None = None, request_id: str = "1") -> str:
    qoh = f"<QuantityOnHand>{on_hand}</QuantityOnHand>" if on_hand is not None else ""
    return (
        f'<ItemInventoryAddRq requestID="{request_id}"><ItemInventoryAdd><Name>{name}</Name>'
        f"<SalesPrice>{price}</SalesPrice>"
        "<IncomeAccountRef><FullName>Merchandise Sales</FullName></IncomeAccountRef>"
        "<PurchaseCost>4.00</PurchaseCost>"
        "<COGSAccountRef><FullName>Cost of Goods Sold</FullName></COGSAccountRef>"
        f"<AssetAccountRef><FullName>Inventory Asset</FullName></AssetAccountRef>{qoh}"
        "</ItemInventoryAdd></ItemInventoryAddRq>"
    )


def sales_line(
    kind: str,
    item: str,
    quantity: str | None = None,
    rate: str | None = None,
    amount: str | None = None,
    tax_code: str | None = None,
) -> str:
    parts = [f"<ItemRef><FullName>{item}</FullName></ItemRef>"]
    if quantity is not None:
        parts.append(f"<Quantity>{quantity}</Quantity>")
    if rate is not None:
        parts.append(f"<Rate>{rate}</Rate>")
    if amount is not None:
        parts.append(f"<Amount>{amount}</Amount>")
    if tax_code is not None:
        parts.append(f"<SalesTaxCodeRef><FullName>{tax_code}</FullName></SalesTaxCodeRef>")
    return f"<{kind}LineAdd>{''.join(parts)}</{kind}LineAdd>"


def sales_add(
    kind: str,
    customer: str | None,
    lines: list[str],
    ref_number: str | None = None,
    tax_item: str | None = None,
    request_id: str = "1",
    header: str = "",
) -> str:
    parts = []
    if customer is not None:
        parts.append(f"<CustomerRef><FullName>{customer}</FullName></CustomerRef>")
    if ref_number is not None:
        parts.append(f"<RefNumber>{ref_number}</RefNumber>")
    parts.append(header)
    if tax_item is not None:
        parts.append(f"<ItemSalesTaxRef><FullName>{tax_item}</FullName></ItemSalesTaxRef>")
    return (
        f'<{kind}AddRq requestID="{request_id}"><{kind}Add>{"".join(parts)}{"".join(lines)}'
        f"</{kind}Add></{kind}AddRq>"
    )


def valid_response(document: str, version: str = "13.0") -> str:
    """``document`` after checking it against the qbXML XSD (raises when it does not validate)."""
    from qbsync.simulator.company_schema import validate_document

    validate_document(document.encode(), version)
    return document


def ret(rs: etree._Element, name: str) -> dict[str, str]:
    """The simple children of the first ``name`` element under ``rs``, as a dict."""
    element = rs.find(name)
    assert element is not None, f"{name} missing in {etree.tostring(rs)[:300]!r}"
    return {child.tag: (child.text or "") for child in element if len(child) == 0}
