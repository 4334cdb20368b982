"""The simulated company on every stored real request sample: answers QuickBooks would give, valid qbXML."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from qbsync.simulator import QuickBooksCompany
from tests.simulator.qbxml_messages import customer_add, message, responses, ret, status, valid_response

# What a fresh standard company answers to each sample (the samples name customers and IDs it lacks).
EXPECTED_ON_FRESH_COMPANY = {
    "account_query_rq.xml": 0,
    "customer_add_rq.xml": 0,
    "customer_query_iterator_rq.xml": 1,  # no customers yet: "no match"
    "customer_query_rq.xml": 500,  # FullName that does not exist: Warn, not an error
    "estimate_add_rq.xml": 3140,  # CustomerRef "Keith's Company" does not exist
    "invoice_add_rq.xml": 3140,
    "item_inventory_add_rq.xml": 0,
    "purchase_order_query_rq.xml": 1,
    "receive_payment_add_rq.xml": 3140,
    "receive_payment_query_rq.xml": 3120,  # TxnID that does not exist
    "sales_receipt_add_rq.xml": 3140,
    "customer_add_rq.as-sent.2008.xml": 0,
}


def sample_paths(reference_dir: Path) -> list[Path]:
    samples = reference_dir / "qbxml" / "samples"
    return [
        *sorted((samples / "qbwc-qbxml-gem" / "requests").glob("*.xml")),
        samples / "captured" / "customer_add_rq.as-sent.2008.xml",
    ]


def test_every_stored_request_sample_is_covered(reference_dir: Path) -> None:
    assert sorted(p.name for p in sample_paths(reference_dir)) == sorted(EXPECTED_ON_FRESH_COMPANY)


@pytest.mark.parametrize("name", sorted(EXPECTED_ON_FRESH_COMPANY))
def test_sample_gets_a_valid_response_with_the_documented_status(reference_dir: Path, name: str) -> None:
    path = next(p for p in sample_paths(reference_dir) if p.name == name)
    document = path.read_text(encoding="utf-8")
    request = etree.fromstring(document.encode()).find("QBXMLMsgsRq")[0]

    answer = valid_response(QuickBooksCompany(profile="legacy").process(document))

    (rs,) = responses(answer)
    assert rs.tag == request.tag[:-2] + "Rs"
    assert rs.get("requestID") == request.get("requestID")
    code, severity, text = status(rs)
    assert code == EXPECTED_ON_FRESH_COMPANY[name], text
    assert severity == {0: "Info", 1: "Info", 500: "Warn"}.get(code, "Error")
    assert answer.startswith('<?xml version="1.0" ?>')


def test_captured_customer_add_answers_like_the_captured_response(reference_dir: Path) -> None:
    samples = reference_dir / "qbxml" / "samples" / "captured"
    real = responses((samples / "customer_add_rs.2008.xml").read_text())[0]
    sent = (samples / "customer_add_rq.as-sent.2008.xml").read_text()
    ours = responses(QuickBooksCompany(profile="legacy").process(sent))[0]

    assert (ours.get("requestID"), status(ours)) == (real.get("requestID"), status(real))
    ours_ret, real_ret = ret(ours, "CustomerRet"), ret(real, "CustomerRet")
    for field in (
        "Name",
        "FullName",
        "IsActive",
        "Sublevel",
        "Salutation",
        "FirstName",
        "LastName",
        "Phone",
        "Balance",
        "TotalBalance",
        "JobStatus",
    ):
        assert ours_ret[field] == real_ret[field], field
    ours_order = [child.tag for child in ours.find("CustomerRet")]
    real_order = [child.tag for child in real.find("CustomerRet")]
    assert [tag for tag in real_order if tag in ours_order] == [
        tag for tag in ours_order if tag in real_order
    ]


def test_estimate_sample_succeeds_once_its_customer_and_items_exist(reference_dir: Path) -> None:
    company = QuickBooksCompany(profile="legacy")
    setup = [customer_add("Keith's Company")]
    for index, name in enumerate(("Item Name 1", "Item Name 2"), start=2):
        setup.append(
            f'<ItemServiceAddRq requestID="{index}"><ItemServiceAdd><Name>{name}</Name><SalesOrPurchase>'
            "<Price>1.00</Price><AccountRef><FullName>Sales</FullName></AccountRef></SalesOrPurchase>"
            "</ItemServiceAdd></ItemServiceAddRq>"
        )
    assert [status(rs)[0] for rs in responses(company.process(message(*setup)))] == [0, 0, 0]
    path = reference_dir / "qbxml" / "samples" / "qbwc-qbxml-gem" / "requests" / "estimate_add_rq.xml"

    (rs,) = responses(valid_response(company.process(path.read_text())))

    assert status(rs)[0] == 0
    estimate = ret(rs, "EstimateRet")
    # 1 x 295 + 3 x 25, the rates sent override the items' own price
    assert (estimate["Subtotal"], estimate["TotalAmount"], estimate["RefNumber"]) == (
        "370.00",
        "370.00",
        "9668",
    )
    assert [line.findtext("Amount") for line in rs.iter("EstimateLineRet")] == ["295.00", "75.00"]


def test_host_query_response_has_the_shape_qbwc_sends(reference_dir: Path) -> None:
    captured = responses(
        (
            reference_dir / "qbxml/samples/captured/hcp_host_company_preferences_rs.QBPro2006.2008.xml"
        ).read_text()
    )
    company = QuickBooksCompany(profile="legacy", qbxml_version="13.0")
    company.set_data_ext(
        "{68b5925b-4347-4784-e58d-35a2d190962f}", "FileID", "{ee032e95-47f7-2564-096f-2d4545fcb021}"
    )

    ours = responses(valid_response(company.host_query_response()))

    assert [(rs.tag, rs.get("requestID")) for rs in ours] == [
        (rs.tag, rs.get("requestID")) for rs in captured
    ]
    versions = [v.text for v in ours[0].iter("SupportedQBXMLVersion")]
    assert versions[0] == "1.0" and versions[-1] == "13.0"
    file_id = ours[1].find("CompanyRet/DataExtRet")
    assert file_id.findtext("DataExtName") == "FileID"
    assert file_id.findtext("DataExtValue") == "{ee032e95-47f7-2564-096f-2d4545fcb021}"
    default_tax_code = ours[2].findtext(
        "PreferencesRet/SalesTaxPreferences/DefaultTaxableSalesTaxCodeRef/FullName"
    )
    assert default_tax_code == "Tax"


def test_host_query_response_reports_the_version_asked_for() -> None:
    company = QuickBooksCompany(profile="legacy", qbxml_version="16.0")

    newest = [v.text for v in responses(company.host_query_response())[0].iter("SupportedQBXMLVersion")][-1]
    older = [v.text for v in responses(company.host_query_response(5, 0))[0].iter("SupportedQBXMLVersion")][
        -1
    ]

    assert (newest, older) == ("16.0", "5.0")
