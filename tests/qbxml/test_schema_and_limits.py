"""XSD validation (whole messages and single bad requests in a batch) and the field limits taken from it."""

from __future__ import annotations

import json

import pytest

from qbsync.qbxml import QbxmlDataError, QbxmlValidationError, build_message, fit, max_length, render_request
from qbsync.qbxml.fields import catalog
from qbsync.qbxml.limits import required_max_length
from qbsync.qbxml.schema import compiled_schema, validate, validate_each

GOOD = '<CustomerAddRq requestID="1"><CustomerAdd><Name>Bob</Name></CustomerAdd></CustomerAddRq>'
OUT_OF_ORDER = (
    '<CustomerAddRq requestID="2"><CustomerAdd><CompanyName>Bob Inc</CompanyName><Name>Bob</Name>'
    "</CustomerAdd></CustomerAddRq>"
)
TOO_LONG = f'<CustomerAddRq requestID="3"><CustomerAdd><Name>{"N" * 42}</Name></CustomerAdd></CustomerAddRq>'
NOT_XML = "<CustomerAddRq><CustomerAdd>"


def test_schemas_are_compiled_once_per_version():
    assert compiled_schema("13.0") is compiled_schema("13.0")
    assert compiled_schema("16.0") is compiled_schema("16.0")
    assert compiled_schema("13.0") is not compiled_schema("16.0")


def test_a_valid_message_passes_in_both_versions():
    for version in ("13.0", "16.0"):
        validate(build_message([GOOD], version=version), version)
        validate(build_message([GOOD]).encode(), version)  # bytes too


def test_the_error_is_the_schemas_own_with_line_and_element():
    with pytest.raises(
        QbxmlValidationError, match=r"line 5: Element 'CompanyName': This element is not expected"
    ):
        validate(build_message([OUT_OF_ORDER]))
    with pytest.raises(QbxmlValidationError, match=r"Element 'Name'.*maxLength.*41"):
        validate(build_message([TOO_LONG]))
    with pytest.raises(QbxmlValidationError, match="onError"):
        validate(build_message([GOOD]).replace('onError="continueOnError"', 'onError="stop"'))
    with pytest.raises(QbxmlValidationError, match="not well-formed"):
        validate("<QBXML>")
    assert issubclass(QbxmlValidationError, ValueError)


def test_validate_each_names_only_the_bad_requests_of_a_batch():
    assert validate_each([GOOD, GOOD]) == {}
    problems = validate_each([GOOD, OUT_OF_ORDER, GOOD, TOO_LONG, NOT_XML])
    assert set(problems) == {1, 3, 4}
    assert problems[1].startswith("line 1: Element 'CompanyName'")  # counted from the fragment's first line
    assert "maxLength" in problems[3]
    assert "not well-formed" in problems[4]


def test_the_stored_real_request_samples_validate(samples_dir):
    files = sorted((samples_dir / "qbwc-qbxml-gem" / "requests").glob("*.xml"))
    files.append(samples_dir / "captured" / "customer_add_rq.as-sent.2008.xml")
    assert len(files) == 12
    for path in files:
        for version in ("13.0", "16.0"):
            validate(path.read_bytes(), version)


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("CustomerAdd/Name", 41),
        ("CustomerMod/Name", 41),
        ("InvoiceAdd/BillAddress/Addr1", 41),
        ("InvoiceAdd/BillAddress/PostalCode", 13),
        ("InvoiceAdd/RefNumber", 11),
        ("ReceivePaymentAdd/RefNumber", 20),
        ("ItemInventoryAdd/Name", 31),
        ("CustomerAdd/MiddleName", 5),
        ("SalesReceiptAdd/SalesRepRef/FullName", 5),
        ("CustomerAdd/SalesTaxCodeRef/FullName", 3),
        ("InvoiceAdd/CustomerRef/FullName", 209),
        ("InvoiceAdd/InvoiceLineAdd/Desc", 4095),
        ("CustomerMod/EditSequence", 16),
        ("CustomerAddRq/CustomerAdd/Name", 41),
        ("InvoiceAdd/InvoiceLineAdd/ItemRef/FullName", None),
    ],
)
def test_max_length_comes_from_the_schema(path, limit):
    assert max_length(path) == limit
    assert max_length(path, "16.0") == limit


def test_max_length_agrees_with_every_path_of_the_reference_table(reference_dir):
    table = json.loads((reference_dir / "qbxml" / "field-maxlengths-qbxml13.0.json").read_text())
    paths = {
        path: limit
        for name, group in table.items()
        if not name.startswith("_")
        for path, limit in group.items()
    }
    assert len(paths) > 500
    assert {path: max_length(path) for path in paths} == paths


def test_unknown_paths_and_aggregates_are_errors_not_unlimited():
    with pytest.raises(QbxmlDataError, match="no element at 'CustomerAdd/Nmae'"):
        max_length("CustomerAdd/Nmae")
    with pytest.raises(QbxmlDataError, match="aggregate"):
        max_length("CustomerAdd/BillAddress")


def test_a_limit_code_cuts_to_must_exist():
    assert required_max_length("InvoiceAdd/RefNumber") == 11
    with pytest.raises(QbxmlDataError, match="no maximum length at 'InvoiceAdd/InvoiceLineAdd/ItemRef"):
        required_max_length("InvoiceAdd/InvoiceLineAdd/ItemRef/FullName")


def test_fit_cleans_and_cuts_like_render_does():
    name = fit("ItemInventoryAdd/Name", "Super 😀 T-Shirt — size XXL, colour midnight blue")
    assert name == "Super T-Shirt — size XXL, colou" and len(name) == 31
    sent = render_request("ItemInventoryAdd", {"Name": "Super 😀 T-Shirt — size XXL, colour midnight blue"})
    assert f"<Name>{name}</Name>" in sent
    assert fit("InvoiceAdd/Memo", "a\nb") == "a\r\nb"


def test_request_types_come_from_the_schema():
    assert {"CustomerAdd", "TxnVoid", "ItemInventoryQuery"} <= catalog("13.0").request_types()
    assert "PreferencesMod" not in catalog("13.0").request_types()
    assert catalog("13.0").request_types() < catalog("16.0").request_types()
