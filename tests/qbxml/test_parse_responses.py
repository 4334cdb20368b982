"""The lenient response parser on every stored real sample, and its refusal of hostile documents."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qbsync.qbxml import Outcome, QbxmlParseError, parse_response
from qbsync.qbxml import parse as parse_module


def _read(samples_dir, name: str) -> bytes:
    return (samples_dir / name).read_bytes()


def test_every_stored_response_sample_parses(samples_dir):
    files = [
        p for p in sorted(samples_dir.rglob("*.xml")) if "requests" not in p.parts and "_rq" not in p.name
    ]
    assert len(files) == 23
    for path in files:
        responses = parse_response(path.read_bytes())
        assert len(responses) >= 1, path.name
        for response in responses:
            assert response.type.endswith("Rs") and response.severity in ("Info", "Warn", "Error")


def test_customer_add_answer(samples_dir):
    responses = parse_response(_read(samples_dir, "captured/customer_add_rs.2008.xml"))
    response = responses.by_request_id("Q3VzdG9tZXJBZGR8MTU=")
    assert response is responses.responses[0]
    assert (response.type, response.request_type, response.status_code, response.severity) == (
        "CustomerAddRs",
        "CustomerAdd",
        0,
        "Info",
    )
    assert response.message == "Status OK" and response.outcome is Outcome.SUCCESS
    record = response.record
    assert record["ListID"] == "F0000-1215265593" and record["EditSequence"] == "1215265593"
    assert record["ShipAddress"] == {"Addr1": "56 Cowles Road", "City": "Willington", "State": "CT"}
    assert record["SalesTaxCodeRef"] == {"ListID": "10000-1211065841", "FullName": "Tax"}
    assert responses.by_request_id("nope") is None


def test_name_in_use(samples_dir):
    response = parse_response(
        _read(samples_dir, "captured/item_service_add_rs.3100-name-in-use.xml")
    ).responses[0]
    assert response.status_code == 3100 and response.outcome is Outcome.NAME_IN_USE
    assert (
        response.message
        == 'The name "Shipping Item - QuickBooks Inte" of the list element is already in use.'
    )
    assert response.records == [] and response.record is None


def test_iterator_attributes(samples_dir):
    response = parse_response(
        _read(samples_dir, "qbwc-qbxml-gem/responses/customer_query_terator_rs.xml")
    ).responses[0]
    assert response.iterator_id == "{eb05f701-e727-472f-8ade-6753c4f67a46}"
    assert response.iterator_remaining_count == 18
    assert response.record["Name"] == "10th Customer"
    last_page = parse_response(_read(samples_dir, "qbwc-qbxml-gem/responses/purchase_order_query_rs.xml"))
    assert last_page.responses[0].iterator_remaining_count == 0


def test_no_match_twice_then_success_then_missing_reference(samples_dir):
    name = "captured/item_inventory_query_rs.status1_x2+sales_order_add_rs.2014.xml"
    responses = parse_response(_read(samples_dir, name)).responses
    assert [r.outcome for r in responses] == [
        Outcome.NO_MATCH,
        Outcome.NO_MATCH,
        Outcome.SUCCESS,
        Outcome.MISSING_REFERENCE,
    ]
    assert all(r.request_id is None for r in responses)  # the requests sent none
    assert responses[0].message == "A query request did not find a matching object in QuickBooks"
    order = responses[2].record
    assert order["TxnID"] == "4C-1415942229" and order["TotalAmount"] == "200.00"
    assert order["SalesOrderLineRet"][0]["Quantity"] == "2"
    assert order["SalesOrderLineRet"][0]["ItemRef"]["FullName"] == "SPREE-T-SHIRT"


def test_inventory_query_records_and_lists(samples_dir):
    response = parse_response(_read(samples_dir, "captured/item_inventory_query_rs.2014.xml")).responses[0]
    assert len(response.records) == 16 and set(response.record_types) == {"ItemInventoryRet"}
    shirt = next(r for r in response.records if r["Name"] == "Haskell T-Shirt")
    assert (shirt["QuantityOnHand"], shirt["QuantityOnSalesOrder"], shirt["SalesPrice"]) == (
        "300",
        "0",
        "55.00",
    )
    invoice = parse_response(_read(samples_dir, "captured/invoice_add_rs.2014.xml")).responses[0].record
    assert (
        isinstance(invoice["InvoiceLineRet"], list) and len(invoice["InvoiceLineRet"]) == 1
    )  # always a list
    assert invoice["InvoiceLineRet"][0]["Amount"] == "206.00"


def test_the_sample_that_fails_the_xsd_still_parses(samples_dir):
    response = parse_response(
        _read(samples_dir, "qbwc-qbxml-gem/responses/receive_payment_query_rs.xml")
    ).responses[0]
    assert response.record["TxnID"] == "2484-1263499231"
    assert (
        response.record["CreditCardTxnInfo"]["CreditCardTxnInputInfo"]["CreditCardNumber"]
        == "xxxxxxxxxxxx1234"
    )


def test_error_samples_are_classified(samples_dir):
    expected = {
        "1_item_inventory_query_rs.no-match.xml": [Outcome.NO_MATCH],
        "3120_customer_query_rs.object-not-found.xml": [Outcome.NOT_FOUND],
        "3140+3231_sales_order_add_rs.RECONSTRUCTED.xml": [Outcome.MISSING_REFERENCE, Outcome.RETRY],
        "3140_sales_order_add_rs.invalid-customer-ref.xml": [Outcome.MISSING_REFERENCE],
        "3180_customer_add_rs.list-modified-by-another-user.xml": [Outcome.RETRY],
        "3200_item_inventory_mod_rs.RECONSTRUCTED.xml": [Outcome.STALE_EDIT_SEQUENCE],
        "3210_receive_payment_add_rs.pay-more-than-due.xml": [Outcome.PERMANENT],
        "500_customer_query_rs.warn.xml": [Outcome.WARNING],
    }
    for name, outcomes in expected.items():
        assert [r.outcome for r in parse_response(_read(samples_dir, f"errors/{name}"))] == outcomes, name


def test_hcp_sample_lists_repeated_children(samples_dir):
    responses = parse_response(
        _read(samples_dir, "captured/hcp_host_company_preferences_rs.QBPro2006.2008.xml")
    )
    host, company, _ = (r.record for r in responses)
    assert host["SupportedQBXMLVersion"][-1] == "5.0" and len(host["SupportedQBXMLVersion"]) == 8
    assert [d["DataExtName"] for d in company["DataExtRet"]] == ["AppLock", "FileID"]


def test_answers_without_ret_elements_keep_their_fields():
    document = """<?xml version="1.0" ?><QBXML><QBXMLMsgsRs>
      <TxnVoidRs requestID="v1" statusCode="0" statusSeverity="Info" statusMessage="Status OK">
        <TxnVoidType>Invoice</TxnVoidType><TxnID>C5-1417118624</TxnID></TxnVoidRs>
      <ItemQueryRs requestID="q1" statusCode="0" statusSeverity="Info" statusMessage="Status OK" retCount="2">
        <ItemServiceRet><ListID>1</ListID><Name>Setup</Name></ItemServiceRet>
        <ItemInventoryRet><ListID>2</ListID><Name>Shirt</Name></ItemInventoryRet>
      </ItemQueryRs></QBXMLMsgsRs></QBXML>"""
    void, items = parse_response(document).responses
    assert void.record == {"TxnVoidType": "Invoice", "TxnID": "C5-1417118624"}
    assert items.record_types == ["ItemServiceRet", "ItemInventoryRet"] and items.ret_count == 2
    assert items.records_of("ItemInventoryRet") == [{"ListID": "2", "Name": "Shirt"}]


def test_leniency_towards_what_quickbooks_really_sends():
    # A text response whose declaration names another encoding, leading blanks, a missing severity,
    # a broken statusCode and an element the schema does not know.
    document = (
        ' \n<?xml version="1.0" encoding="utf-16"?><QBXML><QBXMLMsgsRs>'
        '<CustomerQueryRs statusCode="500"><CustomerRet><Name>Zoë</Name><Foo>1</Foo><Foo>2</Foo>'
        '</CustomerRet></CustomerQueryRs><CustomerAddRs statusCode="oops"/></QBXMLMsgsRs></QBXML>'
    )
    warn, broken = parse_response(document).responses
    assert warn.severity == "Warn" and warn.outcome is Outcome.WARNING
    assert warn.record == {"Name": "Zoë", "Foo": ["1", "2"]}
    assert broken.status_code == -1 and broken.outcome is Outcome.PERMANENT and "statusCode" in broken.message
    assert len(parse_response(b"<QBXML><QBXMLMsgsRs/></QBXML>")) == 0


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("", "empty"),
        ("HOSTQUERY/COMPANYQUERY/PREFQUERY is currently not supported in QBPOS.", "not well-formed"),
        ("<QBXML><QBXMLMsgsRs>", "not well-formed"),
        ("<QBXML><SignonMsgsRs/></QBXML>", "without QBXMLMsgsRs"),
        ("<html><body>Bad gateway</body></html>", "found <html>"),
        (12, "text or bytes"),
    ],
)
def test_non_qbxml_is_a_clear_parse_error(document, reason):
    with pytest.raises(QbxmlParseError, match=reason):
        parse_response(document)


def test_external_entities_are_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    document = (
        f'<?xml version="1.0"?><!DOCTYPE QBXML [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        '<QBXML><QBXMLMsgsRs><CustomerQueryRs statusCode="0" statusSeverity="Info" statusMessage="&xxe;"/>'
        "</QBXMLMsgsRs></QBXML>"
    )
    with pytest.raises(QbxmlParseError, match="DOCTYPE"):
        parse_response(document)


def test_billion_laughs_is_refused_quickly():
    entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    document = (
        f'<?xml version="1.0"?><!DOCTYPE QBXML [<!ENTITY l0 "ha">{entities}]>'
        '<QBXML><QBXMLMsgsRs><CustomerQueryRs statusCode="0" statusMessage="&l9;"/></QBXMLMsgsRs></QBXML>'
    )
    with pytest.raises(QbxmlParseError, match="DOCTYPE"):
        parse_response(document.encode())
    utf16 = document.replace('<?xml version="1.0"?>', "").encode("utf-16")  # the byte scan cannot see it
    with pytest.raises(QbxmlParseError, match="DOCTYPE"):
        parse_response(utf16)


def test_records_keep_their_shape_whatever_the_mix_of_known_unknown_and_repeated_elements():
    document = """<QBXML><QBXMLMsgsRs>
      <InvoiceQueryRs requestID="q1" statusCode="0" statusSeverity="Info" statusMessage="Status OK">
        <InvoiceRet><TxnID>1-1</TxnID><RefNumber>A<Odd>x</Odd></RefNumber><Memo></Memo><Memo>two</Memo>
          <Memo>three</Memo><CustomerRef/><Extra><Deep>1</Deep><Deep>2</Deep></Extra>
          <InvoiceLineRet><TxnLineID>L1</TxnLineID><Desc>only one</Desc></InvoiceLineRet>
          <Unknown>plain</Unknown></InvoiceRet>
      </InvoiceQueryRs></QBXMLMsgsRs></QBXML>"""
    record = parse_response(document).responses[0].record
    assert record == {
        "TxnID": "1-1",
        "RefNumber": {"Odd": "x"},  # a leaf by the schema, with elements in it: a record
        "Memo": ["", "two", "three"],  # repeated where the schema says once: a list, in order
        "CustomerRef": {},  # an aggregate by the schema, empty
        "Extra": {"Deep": ["1", "2"]},
        "InvoiceLineRet": [{"TxnLineID": "L1", "Desc": "only one"}],  # repeats by the schema: a list of one
        "Unknown": "plain",
    }


@given(
    before=st.sampled_from(["", " ", " \n\t", "\ufeff", "x"]),
    declaration=st.sampled_from(["", '<?xml version="1.0"?>', "<?xml version='1.0' encoding='utf-16' ?>",
                                 "<?xml?>", "<?xml version=\"1.0\"", "<?xm?>"]),
    rest=st.text(alphabet=st.sampled_from(' \n<?xml>Q"é'), max_size=30),
)
@settings(max_examples=300, deadline=None)
def test_a_texts_declaration_is_dropped_only_at_its_start(before, declaration, rest):
    text = before + declaration + rest
    # As a substitution of the declaration pattern gives (tried there at every position, matched only
    # at the start).
    expected = parse_module._DECLARATION.sub("", text, count=1).encode("utf-8")
    assert parse_module._document_bytes(text) == expected


_SEVERITY_TEXTS = ["Info", "Warn", "Error", " warn", "ERROR ", "info", "Warn ", "\tInfo", "", "Fatal",
                   "Warning"]


@given(given_severity=st.one_of(st.none(), st.sampled_from(_SEVERITY_TEXTS)),
       code=st.sampled_from([-1, 0, 1, 499, 500, 999, 1000, 3100]))
def test_a_severity_as_quickbooks_writes_it_or_not_is_read_alike(given_severity, code):
    expected = next((name for name in ("Info", "Warn", "Error")
                     if given_severity and given_severity.strip().lower() == name.lower()),
                    "Info" if 0 <= code < 500 else "Warn" if 500 <= code < 1000 else "Error")
    assert parse_module._severity(given_severity, code) == expected
