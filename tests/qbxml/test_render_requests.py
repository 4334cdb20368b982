"""Every request template, with ordinary and hostile data, renders valid qbXML sending what it was given."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from qbsync.qbxml import (
    QbxmlDataError,
    QbxmlVersionError,
    build_message,
    render_request,
    supported_request_types,
    validate,
)
from qbsync.qbxml.fields import catalog
from qbsync.qbxml.values import clean_text
from tests.qbxml.request_data import HOSTILE_TEXT, LIST_ID, ORDINARY, hostile

VERSIONS = ("13.0", "16.0")
CASES = [(name, index) for name, variants in ORDINARY.items() for index in range(len(variants))]
BRIEF_TYPES = {
    "CustomerAdd",
    "CustomerMod",
    "CustomerQuery",
    "ItemInventoryAdd",
    "ItemInventoryMod",
    "ItemInventoryQuery",
    "ItemNonInventoryAdd",
    "ItemNonInventoryMod",
    "ItemNonInventoryQuery",
    "ItemServiceAdd",
    "ItemServiceQuery",
    "ItemOtherChargeAdd",
    "ItemOtherChargeQuery",
    "ItemDiscountAdd",
    "ItemDiscountQuery",
    "ItemSalesTaxAdd",
    "ItemSalesTaxQuery",
    "ItemQuery",
    "InvoiceAdd",
    "InvoiceMod",
    "InvoiceQuery",
    "SalesReceiptAdd",
    "SalesReceiptMod",
    "SalesReceiptQuery",
    "SalesOrderAdd",
    "SalesOrderQuery",
    "ReceivePaymentAdd",
    "CreditMemoAdd",
    "InventoryAdjustmentAdd",
    "InventoryAdjustmentQuery",
    "TxnVoid",
    "TxnDel",
    "AccountQuery",
    "PaymentMethodQuery",
    "SalesTaxCodeQuery",
}


def _sent(request_type: str, data: dict, version: str = "13.0", request_id: str = "r1") -> etree._Element:
    """Render, wrap, validate, and return the parsed request element."""
    fragment = render_request(request_type, data, request_id=request_id, version=version)
    document = build_message([fragment], version=version)
    validate(document, version)
    return etree.fromstring(document.encode()).find("QBXMLMsgsRq")[0]


def test_every_supported_request_type_is_exercised_here():
    assert supported_request_types("13.0") == set(ORDINARY)
    assert supported_request_types("16.0") == set(ORDINARY)
    assert supported_request_types("13.0") >= BRIEF_TYPES


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("request_type", "index"), CASES)
def test_ordinary_data_renders_valid_and_arrives_in_place(request_type, index, version):
    data = ORDINARY[request_type][index]
    element = _sent(request_type, data, version)
    assert element.tag == f"{request_type}Rq"
    assert element.get("requestID") == "r1"
    body = element.find(request_type)
    attributes = {"iterator", "iteratorID", "metaData"}
    for key in attributes & set(data):
        assert element.get(key) == data[key]
    if body is None:
        _assert_sent({k: v for k, v in data.items() if k not in attributes}, element)
    else:
        _assert_sent({k: v for k, v in data.items() if k != "IncludeRetElement"}, body)
        assert [e.text for e in element.findall("IncludeRetElement")] == data.get("IncludeRetElement", [])


def _assert_sent(data: dict, element: etree._Element) -> None:
    """Every value in ``data`` is in ``element``, at its place, in qbXML's format."""
    for key, value in data.items():
        found = element.findall(key)
        values = value if isinstance(value, list) else [value]
        assert len(found) == len(values), f"{element.tag}/{key}"
        for node, expected in zip(found, values, strict=True):
            if isinstance(expected, dict):
                _assert_sent(expected, node)
            else:
                _assert_same(node.text or "", expected, f"{element.tag}/{key}")


def _assert_same(text: str, expected: object, where: str) -> None:
    if isinstance(expected, bool):
        assert text == ("true" if expected else "false"), where
    elif isinstance(expected, dt.datetime) and "T" not in text:  # a DATETYPE field given a datetime
        assert text == expected.date().isoformat(), where
    elif isinstance(expected, dt.datetime):
        assert dt.datetime.fromisoformat(text) == expected.replace(tzinfo=dt.UTC), where
    elif isinstance(expected, dt.date):
        assert text == expected.isoformat(), where
    elif isinstance(expected, Decimal | int) or (isinstance(expected, str) and _numeric(where)):
        assert Decimal(text) == Decimal(str(expected)), where
    elif isinstance(expected, str) and "\n" in expected:
        assert text == expected.replace("\n", "\r\n"), where  # multi-line fields keep CR LF breaks
    elif isinstance(expected, str) and "T" in expected and where.endswith("ModifiedDate"):
        assert dt.datetime.fromisoformat(text) == dt.datetime.fromisoformat(expected), where
    else:
        assert text == expected, where


def _numeric(where: str) -> bool:
    return where.rsplit("/", 1)[-1] in {"PurchaseCost", "SalesPrice", "TotalAmount", "Amount", "Price"}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("request_type", "index"), CASES)
def test_hostile_data_renders_valid_and_storable(request_type, index, version):
    data = hostile(request_type, ORDINARY[request_type][index], version)
    element = _sent(request_type, data, version)
    for node in element.iter():
        text = node.text or ""
        text.encode("cp1252")  # QuickBooks' code page: no emoji, nothing it would mangle
        assert not any(ord(c) < 32 and c not in "\r\n" for c in text), node.tag
        if text.startswith("A &"):  # markup characters survived escaping (the text may be cut short)
            start = "A & B \"quoted\" <tag> 'apos'"
            assert text[: len(start)] == start[: len(text)], node.tag


def test_long_text_is_cut_to_the_schema_limit():
    element = _sent(
        "CustomerAdd",
        {
            "Name": "N" * 300,
            "CompanyName": HOSTILE_TEXT,
            "BillAddress": {"Addr1": "A" * 60, "PostalCode": "1" * 20},
            "Notes": "line\n" * 2000,
        },
    )
    body = element.find("CustomerAdd")
    assert body.findtext("Name") == "N" * 41
    assert len(body.findtext("CompanyName")) <= 41
    assert body.findtext("CompanyName").startswith("A & B \"quoted\" <tag> 'apos' Café")
    assert body.findtext("BillAddress/Addr1") == "A" * 41
    assert body.findtext("BillAddress/PostalCode") == "1" * 13
    notes = body.findtext("Notes")
    assert len(notes) == 4095 and notes.startswith("line\r\nline") and not notes.endswith("\r")


# What escaping writes for each character it replaces (markupsafe's, plus line breaks and tabs).
_ESCAPED = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;", "\r": "&#13;", "\n": "&#10;",
            "\t": "&#9;"}


def _name_line(name: object) -> str:
    """The <Name> line a CustomerAdd with this name sends (Name: at most 41 characters)."""
    fragment = render_request("CustomerAdd", {"Name": name}, request_id="r1")
    return next(line.strip() for line in fragment.splitlines() if "<Name>" in line)


@pytest.mark.parametrize(
    ("name", "sent"),
    [
        ("Acme Corp (436)", "Acme Corp (436)"),
        ("N" * 41, "N" * 41),  # exactly the limit
        ("N" * 40 + "xy", "N" * 40 + "x"),  # one beyond: cut
        ("N" * 40 + " y", "N" * 40),  # cut before a space: no dangling space
        (" Acme  Corp ", "Acme Corp"),  # spaces at the ends and doubled
        ("Tom & Jerry's <Shop> \"1\"", "Tom &amp; Jerry&#39;s &lt;Shop&gt; &#34;1&#34;"),
        ("Café Müller", "Café Müller"),  # beyond ASCII, in Windows-1252
        ("Kőszeg 🎉", "Koszeg"),  # folded, emoji dropped
        ("a\x00b\tc\nd", "ab c d"),  # controls dropped, line breaks and tabs are spaces here
        ("~!#$%()*+,-./:;=?@[]^_`{|}", "~!#$%()*+,-./:;=?@[]^_`{|}"),  # printable ASCII, nothing to escape
        (12797, "12797"),
        (Decimal("1.50"), "1.50"),
    ],
)
def test_names_are_sent_cleaned_escaped_and_cut(name, sent):
    assert _name_line(name) == f"<Name>{sent}</Name>"


@given(st.text(alphabet=st.sampled_from("ab Z09 &<>\"'\t\r\n\x01é€ő🎉"), max_size=60))
@settings(max_examples=300, deadline=None)
def test_a_name_is_sent_as_cleaning_and_escaping_make_it(name):
    cleaned = clean_text(name, 41)
    expected = "".join(_ESCAPED.get(char, char) for char in cleaned)
    assert _name_line(name) == f"<Name>{expected}</Name>"


@pytest.mark.parametrize(
    ("list_id", "sent"),
    [
        (LIST_ID, LIST_ID),
        (f" {LIST_ID} ", LIST_ID),  # spaces around it are trimmed, as QuickBooks never puts them in one
        ("8" * 36, "8" * 36),  # IDTYPE's limit exactly
        ("80&<1>", "80&amp;&lt;1&gt;"),
    ],
)
def test_identifiers_are_sent_as_given(list_id, sent):
    fragment = render_request("CustomerMod", {"ListID": list_id, "EditSequence": "1"}, request_id="r1")
    assert f"<ListID>{sent}</ListID>" in fragment


def test_repeated_values_are_cleaned_one_by_one_and_a_bad_one_is_named_by_its_place():
    fragment = render_request(
        "SalesReceiptQuery", {"RefNumber": ["1010", " A&B ", "", 1012], "TxnID": [LIST_ID]}, request_id="r1")
    assert f"<TxnID>{LIST_ID}</TxnID>" in fragment
    assert "<RefNumber>1010</RefNumber><RefNumber>A&amp;B</RefNumber><RefNumber></RefNumber>" in fragment
    assert "<RefNumber>1012</RefNumber>" in fragment
    with pytest.raises(QbxmlDataError, match=r"SalesReceiptQueryRq/TxnID\[1\]: identifier .* longer than 36"):
        render_request("SalesReceiptQuery", {"TxnID": [LIST_ID, "8" * 37]})
    with pytest.raises(QbxmlDataError, match=r"SalesReceiptQueryRq/RefNumber\[1\]: text expected"):
        render_request("SalesReceiptQuery", {"RefNumber": ["1", True]})
    with pytest.raises(QbxmlDataError, match=r"SalesReceiptQueryRq/RefNumber\[0\] takes a single value"):
        render_request("SalesReceiptQuery", {"RefNumber": [["1"]]})


def test_amounts_prices_and_quantities_are_sent_in_qbxml_formats():
    element = _sent(
        "InvoiceAdd",
        {
            "CustomerRef": {"ListID": LIST_ID},
            "InvoiceLineAdd": [
                {
                    "ItemRef": {"FullName": "Shirt"},
                    "Quantity": Decimal("2.000"),
                    "Rate": "19.990",
                    "Amount": Decimal("39.975"),
                },
                {"ItemRef": {"FullName": "Coupon"}, "Amount": -5},
                {"ItemRef": {"FullName": "Big"}, "Quantity": 1, "Amount": "9999999999999.994"},
            ],
        },
    )
    lines = element.findall("InvoiceAdd/InvoiceLineAdd")
    assert [line.findtext("Amount") for line in lines] == ["39.98", "-5.00", "9999999999999.99"]
    assert lines[0].findtext("Rate") == "19.99"
    assert lines[0].findtext("Quantity") == "2"


def test_an_amount_beyond_thirteen_digits_is_refused_with_its_place():
    with pytest.raises(QbxmlDataError, match=r"InvoiceAdd/InvoiceLineAdd\[1\]/Amount: amount .* too large"):
        render_request(
            "InvoiceAdd",
            {
                "CustomerRef": {"ListID": LIST_ID},
                "InvoiceLineAdd": [{"Desc": "ok"}, {"Desc": "huge", "Amount": Decimal("10000000000000")}],
            },
        )


def test_a_price_with_separators_is_refused():
    with pytest.raises(QbxmlDataError, match="ItemInventoryAdd/SalesPrice: .*thousands separators"):
        render_request("ItemInventoryAdd", {"Name": "Shirt", "SalesPrice": "1,299.00"})


def test_refs_take_a_list_id_a_full_name_or_both():
    element = _sent(
        "SalesOrderAdd",
        {
            "CustomerRef": {"ListID": LIST_ID, "FullName": "Jane"},
            "SalesOrderLineAdd": [{"ItemRef": {"ListID": LIST_ID}}, {"ItemRef": {"FullName": "Shirt"}}],
        },
    )
    assert element.findtext("SalesOrderAdd/CustomerRef/ListID") == LIST_ID
    assert element.findtext("SalesOrderAdd/CustomerRef/FullName") == "Jane"
    refs = element.findall("SalesOrderAdd/SalesOrderLineAdd/ItemRef")
    assert [(r.findtext("ListID"), r.findtext("FullName")) for r in refs] == [
        (LIST_ID, None),
        (None, "Shirt"),
    ]


def test_description_only_lines_are_sent_without_an_item():
    element = _sent("SalesReceiptAdd", {"SalesReceiptLineAdd": [{"Desc": "Gift message: Happy birthday!"}]})
    line = element.find("SalesReceiptAdd/SalesReceiptLineAdd")
    assert [child.tag for child in line] == ["Desc"]


def test_none_and_missing_optional_fields_are_left_out_and_empty_string_clears():
    element = _sent("CustomerMod", {"ListID": LIST_ID, "EditSequence": "1", "Phone": None, "Email": ""})
    body = element.find("CustomerMod")
    assert [child.tag for child in body] == ["ListID", "EditSequence", "Email"]
    assert body.findtext("Email") == ""


def test_iterator_queries_carry_their_attributes():
    start = _sent(
        "ItemInventoryQuery",
        {"MaxReturned": 100, "iterator": "Start", "FromModifiedDate": dt.datetime(2024, 5, 1, 8, 0)},
    )
    assert start.get("iterator") == "Start" and start.get("iteratorID") is None
    assert start.findtext("FromModifiedDate") == "2024-05-01T08:00:00+00:00"
    more = _sent(
        "ItemInventoryQuery",
        {"MaxReturned": 100, "iterator": "Continue", "iteratorID": "{eb05f701-e727-472f-8ade-6753c4f67a46}"},
    )
    assert more.get("iteratorID") == "{eb05f701-e727-472f-8ade-6753c4f67a46}"
    with pytest.raises(QbxmlDataError, match="iterator='Begin' is not one of Start, Continue, Stop"):
        render_request("ItemInventoryQuery", {"iterator": "Begin"})


def test_request_id_is_escaped_and_limited_to_fifty_characters():
    element = _sent("CustomerQuery", {}, request_id='a&b"<c>')
    assert element.get("requestID") == 'a&b"<c>'
    with pytest.raises(QbxmlDataError, match="at most 50"):
        render_request("CustomerQuery", {}, request_id="x" * 51)
    with pytest.raises(QbxmlDataError, match="request_id="):
        render_request("CustomerQuery", {"requestID": "1"})


def test_identifiers_are_never_cut():
    with pytest.raises(QbxmlDataError, match="CustomerMod/ListID: identifier .* longer than 36"):
        render_request("CustomerMod", {"ListID": "8" * 37, "EditSequence": "1"})
    with pytest.raises(QbxmlDataError, match="EditSequence"):
        render_request("CustomerMod", {"ListID": LIST_ID, "EditSequence": "1\x00"})


def test_unknown_fields_are_refused_with_a_suggestion():
    with pytest.raises(
        QbxmlDataError, match="CustomerAdd has no field 'Nmae' in qbXML 13.0; did you mean Name"
    ):
        render_request("CustomerAdd", {"Nmae": "Bob"})
    with pytest.raises(QbxmlDataError, match=r"InvoiceAdd/InvoiceLineAdd\[0\] has no field 'Price'"):
        render_request("InvoiceAdd", {"InvoiceLineAdd": [{"Price": 1}]})


def test_a_field_the_template_does_not_send_is_refused_not_dropped():
    with pytest.raises(QbxmlDataError, match="does not send CustomerAdd/CreditCardInfo"):
        render_request("CustomerAdd", {"Name": "Bob", "CreditCardInfo": {"CreditCardNumber": "4111"}})


def test_wrong_shapes_are_refused():
    with pytest.raises(QbxmlDataError, match="at most once"):
        render_request("CustomerAdd", {"Name": ["a", "b"]})
    with pytest.raises(QbxmlDataError, match="takes a dict"):
        render_request("CustomerAdd", {"Name": "a", "BillAddress": "1 Main St"})
    with pytest.raises(QbxmlDataError, match="takes a single value"):
        render_request("CustomerAdd", {"Name": {"first": "a"}})
    with pytest.raises(QbxmlDataError, match="lists a None"):
        render_request("CustomerQuery", {"ListID": [LIST_ID, None]})
    with pytest.raises(QbxmlDataError, match="not one of"):
        render_request("TxnVoid", {"TxnVoidType": "Nonsense", "TxnID": "1"})
    with pytest.raises(QbxmlDataError, match="true or false"):
        render_request("CustomerAdd", {"Name": "a", "IsActive": "yes"})


def test_fields_and_values_of_another_version_are_refused_with_a_version_error():
    order = {
        "CustomerRef": {"FullName": "Jane"},
        "SalesOrderLineAdd": [{"Desc": "x"}],
        "SOChannel": "Ecommerce",
        "StoreName": "Web shop",
    }
    with pytest.raises(QbxmlVersionError, match="SalesOrderAdd/SOChannel is not part of qbXML 13.0"):
        render_request("SalesOrderAdd", order)
    element = _sent("SalesOrderAdd", order, version="16.0")
    assert element.findtext("SalesOrderAdd/SOChannel") == "Ecommerce"
    with pytest.raises(QbxmlVersionError, match="only allowed in qbXML 16.0"):
        render_request("TxnDel", {"TxnDelType": "PayrollPriorPayment", "TxnID": "1"})


def test_request_types_are_checked_against_the_version():
    assert "PreferencesMod" in catalog("16.0").request_types()
    with pytest.raises(QbxmlVersionError, match="PreferencesModRq is not part of qbXML 13.0"):
        render_request("PreferencesMod", {})
    with pytest.raises(QbxmlDataError, match="no template for PreferencesModRq"):
        render_request("PreferencesMod", {}, version="16.0")
    with pytest.raises(QbxmlDataError, match="not a qbXML request type"):
        render_request("CustomerAddd", {})
    with pytest.raises(QbxmlVersionError, match="'12.0' is not supported"):
        render_request("CustomerAdd", {"Name": "a"}, version="12.0")
    assert render_request("CustomerAddRq", {"Name": "a"}).startswith("<CustomerAddRq>")


def test_build_message_starts_exactly_as_quickbooks_expects():
    fragments = [
        render_request("CustomerAdd", {"Name": "A"}, request_id="1"),
        render_request("CustomerQuery", {"FullName": ["A"]}, request_id="2"),
    ]
    document = build_message(fragments, on_error="stopOnError")
    assert document.startswith(
        '<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="13.0"?>\n'
        '<QBXML>\n<QBXMLMsgsRq onError="stopOnError">\n<CustomerAddRq requestID="1">'
    )
    validate(document)
    root = etree.fromstring(document.encode())
    assert [e.get("requestID") for e in root.find("QBXMLMsgsRq")] == ["1", "2"]
    assert build_message([], version="16.0").startswith(
        '<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="16.0"?>'
    )
    validate(build_message([]))
    with pytest.raises(QbxmlDataError, match="on_error"):
        build_message(fragments, on_error="rollbackOnError")
    with pytest.raises(QbxmlDataError, match="list of request fragments"):
        build_message(fragments[0])
