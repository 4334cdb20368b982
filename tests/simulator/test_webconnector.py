"""The simulated Web Connector against a scripted SOAP server on 127.0.0.1: the call sequence QBWC follows
and the bytes it puts on the wire."""

from __future__ import annotations

import pytest
from lxml import etree

from qbsync.simulator import QuickBooksCompany, WebConnector
from tests.simulator.fake_soap_server import Each, FakeQbsync, Fault, Served
from tests.simulator.qbxml_messages import customer_add, inventory_add, message

BASE = {
    "serverVersion": "fake qbsync 1.0",
    "clientVersion": "",
    "authenticate": ["ticket-1", ""],
    "closeConnection": "Complete!",
    "getLastError": "nothing left",
}


def script(**overrides):
    return {**BASE, **overrides}


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def connect(fake: FakeQbsync, company: QuickBooksCompany, **options) -> WebConnector:
    options.setdefault("sleep", Sleeps())
    return WebConnector(fake.url, "shop-qbwc", "s3cret", company, **options)


def test_a_whole_session_as_qbwc_sends_it(company: QuickBooksCompany) -> None:
    fake = FakeQbsync(
        script(
            sendRequestXML=Each([message(customer_add("Ann")), message(inventory_add("Widget"))]),
            receiveResponseXML=Each([50, 100]),
        )
    )
    with Served(fake), connect(fake, company) as connector:
        report = connector.run_once()

    assert fake.methods() == [
        "serverVersion",
        "clientVersion",
        "authenticate",
        "sendRequestXML",
        "receiveResponseXML",
        "sendRequestXML",
        "receiveResponseXML",
        "closeConnection",
    ]
    assert (report.ticket, report.auth_result, report.ended_by, report.close_text) == (
        "ticket-1",
        "",
        "closeConnection",
        "Complete!",
    )
    assert (report.round_trips, report.requests_processed, report.percent_done) == (2, 2, [50, 100])
    assert report.records_created == {"Customer": 1, "ItemInventory": 1}
    assert fake.params("clientVersion") == [{"strVersion": "2.3.0.215"}]
    assert fake.params("authenticate") == [{"strUserName": "shop-qbwc", "strPassword": "s3cret"}]
    assert all(p["ticket"] == "ticket-1" for c in fake.calls[3:] for p in [c.params])
    first, second = fake.params("sendRequestXML")
    assert "<HostQueryRs" in first["strHCPResponse"] and "<PreferencesQueryRs" in first["strHCPResponse"]
    assert second["strHCPResponse"] is None  # sent as <strHCPResponse />
    assert (first["qbXMLCountry"], first["qbXMLMajorVers"], first["qbXMLMinorVers"]) == ("US", "13", "0")
    assert first["strCompanyFileName"].endswith(".QBW")
    received = fake.params("receiveResponseXML")[0]
    response = etree.fromstring(received["response"].encode())
    assert response.find("QBXMLMsgsRs/CustomerAddRs").get("statusCode") == "0"
    assert (received["hresult"], received["message"]) == (None, None)
    assert company.find("Customer", "Ann") is not None


def test_requests_look_like_the_real_qbwc_on_the_wire(company: QuickBooksCompany) -> None:
    fake = FakeQbsync(script(sendRequestXML=Each([message(customer_add("Ann"))]), receiveResponseXML=100))
    with Served(fake), connect(fake, company) as connector:
        connector.run_once()

    for call in fake.calls:
        assert call.headers["Content-Type"] == "text/xml; charset=utf-8"
        assert call.headers["Soapaction"] == f'"http://developer.intuit.com/{call.method}"'
        assert "MS Web Services Client Protocol" in call.headers["User-Agent"]
        assert call.body.startswith(
            b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope '
            b'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"'
        )
    by_method = {c.method: c.body for c in fake.calls}
    assert (
        b'<soap:Body><serverVersion xmlns="http://developer.intuit.com/" /></soap:Body>'
        in by_method["serverVersion"]
    )
    assert (
        b'<authenticate xmlns="http://developer.intuit.com/"><strUserName>shop-qbwc</strUserName>'
        in by_method["authenticate"]
    )
    assert b"<hresult /><message /></receiveResponseXML>" in by_method["receiveResponseXML"]
    assert b"&lt;?xml version=" in by_method["receiveResponseXML"]  # the qbXML travels escaped, as a string


def test_nothing_to_send_goes_to_get_last_error_then_close(company: QuickBooksCompany) -> None:
    fake = FakeQbsync(script(sendRequestXML=""))
    with Served(fake), connect(fake, company) as connector:
        report = connector.run_once()

    assert fake.methods()[3:] == ["sendRequestXML", "getLastError", "closeConnection"]
    assert (report.last_error, report.round_trips, report.ended_by) == ("nothing left", 0, "closeConnection")


def test_noop_waits_and_asks_again(company: QuickBooksCompany) -> None:
    sleeps = Sleeps()
    fake = FakeQbsync(
        script(
            sendRequestXML=Each(["", message(customer_add("Ann"))]),
            getLastError=Each(["NoOp"]),
            receiveResponseXML=100,
        )
    )
    with Served(fake), connect(fake, company, sleep=sleeps, noop_wait_seconds=5.0) as connector:
        report = connector.run_once()

    assert fake.methods()[3:] == [
        "sendRequestXML",
        "getLastError",
        "sendRequestXML",
        "receiveResponseXML",
        "closeConnection",
    ]
    assert sleeps == [5.0]
    assert report.requests_processed == 1


def test_negative_answer_asks_for_the_error_then_closes(company: QuickBooksCompany) -> None:
    fake = FakeQbsync(
        script(
            sendRequestXML=message(customer_add("Ann")),
            receiveResponseXML=-101,
            getLastError="Mapping failed",
        )
    )
    with Served(fake), connect(fake, company) as connector:
        report = connector.run_once()

    assert fake.methods()[3:] == ["sendRequestXML", "receiveResponseXML", "getLastError", "closeConnection"]
    assert (report.last_error, report.percent_done) == ("Mapping failed", [-101])


@pytest.mark.parametrize("verdict", ["none", "nvu", "busy", "NONE"])
def test_authenticate_verdicts_end_the_session(company: QuickBooksCompany, verdict: str) -> None:
    fake = FakeQbsync(script(authenticate=["" if verdict == "nvu" else "t", verdict]))
    with Served(fake), connect(fake, company) as connector:
        report = connector.run_once()

    assert fake.methods() == ["serverVersion", "clientVersion", "authenticate"]
    assert report.ended_by == f"auth:{verdict.lower()}"


def test_company_path_from_authenticate_is_used(company: QuickBooksCompany) -> None:
    fake = FakeQbsync(script(authenticate=["t", r"C:\Books\Store.QBW", "", "300"], sendRequestXML=""))
    with Served(fake), connect(fake, company) as connector:
        report = connector.run_once()

    assert fake.params("sendRequestXML")[0]["strCompanyFileName"] == r"C:\Books\Store.QBW"
    assert report.min_run_seconds == 300


def test_client_version_error_stops_before_authenticate(company: QuickBooksCompany) -> None:
    fake = FakeQbsync(script(clientVersion="E:Please upgrade the Web Connector"))
    with Served(fake), connect(fake, company) as connector:
        report = connector.run_once()

    assert fake.methods() == ["serverVersion", "clientVersion"]
    assert report.ended_by == "clientVersion"


def test_a_document_quickbooks_cannot_parse_is_reported_with_its_hresult(company: QuickBooksCompany) -> None:
    bad = message("<CustomerAddRq><CustomerAdd><Phone>1</Phone></CustomerAdd></CustomerAddRq>")  # no Name
    fake = FakeQbsync(script(sendRequestXML=bad, receiveResponseXML=-1, getLastError="QuickBooks refused it"))
    with Served(fake), connect(fake, company) as connector:
        report = connector.run_once()

    received = fake.params("receiveResponseXML")[0]
    assert received["response"] is None  # sent as <response />
    assert received["hresult"] == "0x80040400"
    assert received["message"] == "QuickBooks found an error when parsing the provided XML text stream."
    assert report.hresults == [("0x80040400", received["message"])]


def test_crash_after_processing_drops_the_session(company: QuickBooksCompany) -> None:
    company.crash_after_processing()
    fake = FakeQbsync(script(sendRequestXML=message(customer_add("Ann")), receiveResponseXML=100))
    with Served(fake), connect(fake, company) as connector:
        report = connector.run_once()

    assert fake.methods()[-1] == "sendRequestXML"
    assert report.ended_by == "crash"
    assert company.find("Customer", "Ann") is not None  # QuickBooks kept what it did


def test_soap_fault_is_reported_not_raised(company: QuickBooksCompany) -> None:
    fake = FakeQbsync(script(authenticate=Fault("database is down")))
    with Served(fake), connect(fake, company) as connector:
        report = connector.run_once()

    assert report.ended_by == "soap-fault"
    assert "database is down" in report.fault


def test_unreadable_answer_is_reported(company: QuickBooksCompany) -> None:
    fake = FakeQbsync(script(sendRequestXML=message(customer_add("Ann")), receiveResponseXML="lots"))
    with Served(fake), connect(fake, company) as connector:
        report = connector.run_once()

    assert report.ended_by == "protocol-error"
    assert "expected a whole number" in report.fault


def test_reported_qbxml_version_can_be_older(company: QuickBooksCompany) -> None:
    fake = FakeQbsync(script(sendRequestXML=""))
    with Served(fake), connect(fake, company, qbxml_version="5.0") as connector:
        connector.run_once()

    sent = fake.params("sendRequestXML")[0]
    assert (sent["qbXMLMajorVers"], sent["qbXMLMinorVers"]) == ("5", "0")
    versions = [
        v.text for v in etree.fromstring(sent["strHCPResponse"].encode()).iter("SupportedQBXMLVersion")
    ]
    assert versions[-1] == "5.0"


def test_file_id_from_the_qwc_is_stored_and_reported(company: QuickBooksCompany) -> None:
    fake = FakeQbsync(script(sendRequestXML=""))
    with Served(fake), connect(fake, company, owner_id="{owner-1}", file_id="{file-1}") as connector:
        connector.run_once()

    hcp = etree.fromstring(fake.params("sendRequestXML")[0]["strHCPResponse"].encode())
    ext = hcp.find("QBXMLMsgsRs/CompanyQueryRs/CompanyRet/DataExtRet")
    assert (ext.findtext("OwnerID"), ext.findtext("DataExtName"), ext.findtext("DataExtValue")) == (
        "{owner-1}",
        "FileID",
        "{file-1}",
    )
    assert company.get_data_ext("{owner-1}", "FileID") == "{file-1}"


def test_quickbooks_that_will_not_start_calls_connection_error(company: QuickBooksCompany) -> None:
    fake = FakeQbsync(script(connectionError="done"))
    with Served(fake), connect(fake, company) as connector:
        connector.fail_begin_session()
        report = connector.run_once()

    assert fake.methods()[-1] == "connectionError"
    assert fake.params("connectionError") == [
        {"ticket": "ticket-1", "hresult": "0x80040408", "message": "Could not start QuickBooks."}
    ]
    assert report.ended_by == "connectionError"


def test_auto_run_until_idle(company: QuickBooksCompany) -> None:
    sleeps = Sleeps()
    fake = FakeQbsync(
        script(
            sendRequestXML=Each([message(customer_add("Ann")), message(customer_add("Bob")), ""]),
            receiveResponseXML=100,
        )
    )
    with Served(fake), connect(fake, company, sleep=sleeps) as connector:
        reports = connector.run(until_idle=True, interval_seconds=60)

    assert [r.requests_processed for r in reports] == [1, 1, 0]
    assert sleeps == [60, 60]
    assert [c["Name"] for c in company.customers()] == ["Ann", "Bob"]


def test_iterators_do_not_outlive_the_session(company: QuickBooksCompany) -> None:
    company.process(message(customer_add("Ann"), customer_add("Bob", "2")))
    iterator_ids: list[str] = []

    def send(params):
        if not iterator_ids:
            return message('<CustomerQueryRq iterator="Start"><MaxReturned>1</MaxReturned></CustomerQueryRq>')
        return message(
            f'<CustomerQueryRq iterator="Continue" iteratorID="{iterator_ids[0]}">'
            "<MaxReturned>1</MaxReturned></CustomerQueryRq>"
        )

    def receive(params):
        rs = etree.fromstring(params["response"].encode()).find("QBXMLMsgsRs/CustomerQueryRs")
        iterator_ids.append(rs.get("iteratorID"))
        return 100

    fake = FakeQbsync(script(sendRequestXML=send, receiveResponseXML=receive))
    with Served(fake), connect(fake, company) as connector:
        first, second = connector.run(sessions=2)

    assert first.statuses == [("CustomerQuery", 0, "Status OK")]
    assert second.statuses[0][1] == 3000  # the iterator died with the first session


def test_send_request_reports_the_country_of_the_companys_edition(clock) -> None:
    fake = FakeQbsync(script(sendRequestXML="", receiveResponseXML=100))
    with Served(fake), connect(fake, QuickBooksCompany(profile="canada", clock=clock)) as connector:
        connector.run_once()
    (send,) = [c.body for c in fake.calls if c.method == "sendRequestXML"]
    assert b"<qbXMLCountry>CA</qbXMLCountry>" in send
    assert b"&lt;Country&gt;CA&lt;/Country&gt;" in send  # the HostQueryRs of strHCPResponse agrees


def test_another_company_file_opened_by_the_user_is_reported(company: QuickBooksCompany, clock) -> None:
    fake = FakeQbsync(script(sendRequestXML="", receiveResponseXML=100))
    other = QuickBooksCompany(profile="uk", clock=clock)
    with Served(fake), connect(fake, company) as connector:
        connector.run_once()
        connector.open_company_file(other, r"D:\Books\Other Shop Ltd.QBW")
        connector.run_once()
    first, second = [c.body for c in fake.calls if c.method == "sendRequestXML"]
    assert b"Simulated Store.QBW</strCompanyFileName>" in first
    assert b"<strCompanyFileName>D:\\Books\\Other Shop Ltd.QBW</strCompanyFileName>" in second
    assert b"<qbXMLCountry>UK</qbXMLCountry>" in second  # the other file's QuickBooks edition
