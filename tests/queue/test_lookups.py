"""Shared look-ups: many jobs' queries of one kind go out as one, and each job gets the answer its own
query would have had (records, status), checked against the simulated QuickBooks answering both ways."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qbsync.qbxml.parse import Response, parse_response
from qbsync.qbxml.render import build_message, render_request
from qbsync.qbxml.schema import validate
from qbsync.queue import lookups
from qbsync.simulator.company import QuickBooksCompany


def _query(request_type: str, data: dict, request_id: str) -> str:
    return render_request(request_type, data, request_id=request_id)


def _ask(company: QuickBooksCompany, fragments: list[str]) -> list[Response]:
    document = build_message(fragments, on_error="continueOnError")
    validate(document, "13.0")
    return list(parse_response(company.process(document)))


def _company() -> QuickBooksCompany:
    company = QuickBooksCompany()
    for name in ("Doe, John", "Smith, Ann"):
        _ask(company, [_query("CustomerAdd", {"Name": name}, "c")])
    for ref in ("1001", "A-7"):
        _ask(company, [_query("SalesReceiptAdd", {
            "CustomerRef": {"FullName": "Doe, John"}, "RefNumber": ref,
            "SalesReceiptLineAdd": [{"Desc": "thanks", "Amount": "0.00"}]}, "s")])
    return company


def _same(shared: Response, alone: Response) -> None:
    assert (shared.status_code, shared.severity, shared.message) == (alone.status_code, alone.severity,
                                                                      alone.message)
    assert shared.request_id == alone.request_id
    assert [r.get("ListID") or r.get("TxnID") for r in shared.records] == [
        r.get("ListID") or r.get("TxnID") for r in alone.records]
    assert shared.record_types == alone.record_types


@pytest.mark.parametrize(("request_type", "field", "keys", "extra"), [
    ("CustomerQuery", "FullName", ["Doe, John", "nobody", "SMITH, ANN", "doe, john"], {}),
    ("SalesReceiptQuery", "RefNumber", ["1001", "9999", "a-7"], {"IncludeLineItems": True}),
    ("SalesReceiptQuery", "RefNumberCaseSensitive", ["A-7", "a-7", "1001"], {}),
])
def test_each_job_gets_what_its_own_query_would_have_returned(request_type, field, keys, extra):
    company = _company()
    alone = [_query(request_type, {field: key, **extra}, f"{n}.1") for n, key in enumerate(keys)]
    merged = lookups.merge(alone)

    assert len(merged) == 1
    (answer,) = _ask(company, merged)
    expected = [_ask(company, [fragment])[0] for fragment in alone]
    for fragment, own in zip(alone, expected, strict=True):
        lookup = lookups.lookup_of(fragment)
        assert lookup is not None
        _same(lookups.answer_for(answer, lookup), own)


def test_none_found_is_the_same_as_asking_alone_and_found_ones_are_not_duplicated():
    company = _company()
    alone = [_query("CustomerQuery", {"FullName": name}, f"{n}.1") for n, name in enumerate(["x", "y"])]
    (answer,) = _ask(company, lookups.merge(alone))
    for fragment in alone:
        lookup = lookups.lookup_of(fragment)
        shared = lookups.answer_for(answer, lookup)
        assert (shared.status_code, shared.records) == (500, [])
        assert f'("{lookup.key}")' in shared.message  # names its own key, as QuickBooks does

    names = ["Doe, John", "DOE, JOHN", "Smith, Ann"]
    twice = [_query("CustomerQuery", {"FullName": n}, f"{i}.1") for i, n in enumerate(names)]
    (document,) = lookups.merge(twice)
    assert document.count("<FullName>") == 2  # QuickBooks treats the first two as one name: asked once


def test_every_lookup_is_answered_whether_its_query_is_shared_or_its_own():
    """Each job's look-up is either sent under its own requestID or found in a shared query: names that
    QuickBooks treats as one (here differing only in case) never leave a job without an answer."""
    company = _company()
    for names in (["Doe, John", "DOE, JOHN"], ["Doe, John", " doe, john", "DOE, JOHN"],
                  ["Doe, John", "doe, john", "Smith, Ann"], ["nobody", "NOBODY"]):
        fragments = [_query("CustomerQuery", {"FullName": n}, f"{i}.1") for i, n in enumerate(names)]
        sent = lookups.merge(fragments)
        document = build_message(sent, on_error="continueOnError")
        answers = list(parse_response(company.process(document)))
        shared = lookups.shared_queries(document)
        for fragment in fragments:
            lookup = lookups.lookup_of(fragment)
            if lookup.slot in shared:
                (merged,) = [a for a in answers if a.request_id == shared[lookup.slot]]
                answer = lookups.answer_for(merged, lookup)
            else:
                (answer,) = [a for a in answers if a.request_id == lookup.request_id]
            _same(answer, _ask(company, [fragment])[0])


def test_only_lookups_of_one_shape_share_a_query_and_the_rest_keeps_its_order():
    fragments = [
        _query("CustomerQuery", {"FullName": "A"}, "1.1"),
        _query("CustomerAdd", {"Name": "B"}, "2.1"),
        _query("SalesReceiptQuery", {"RefNumber": "1"}, "3.1"),
        _query("CustomerQuery", {"FullName": "C"}, "4.1"),
        _query("ReceivePaymentQuery", {"RefNumber": "1", "IncludeLineItems": True}, "5.1"),
        _query("ReceivePaymentQuery", {"RefNumber": "2"}, "6.1"),  # without line items: another shape
        _query("CustomerQuery", {"ListID": "80000001-1"}, "7.1"),  # by id: a missing id fails a query
        _query("CustomerQuery", {"ListID": "80000002-1"}, "8.1"),
        _query("CustomerQuery", {"FullName": "D", "IncludeRetElement": ["ListID"]}, "9.1"),  # no key back
        _query("CustomerQuery", {"FullName": "E", "IncludeRetElement": ["ListID"]}, "10.1"),
    ]
    merged = lookups.merge(fragments)

    ids = [parse_id(f) for f in merged]
    assert ids == ["1.1", "2.1", "3.1", "5.1", "6.1", "7.1", "8.1", "9.1", "10.1"]
    assert merged[0].count("<FullName>") == 2 and "<FullName>C</FullName>" in merged[0]
    assert merged[1:] == [fragments[1], fragments[2], *fragments[4:]]
    validate(build_message(merged), "13.0")


def test_a_query_with_a_limit_or_an_iterator_is_never_shared():
    limited = [_query("InvoiceQuery", {"MaxReturned": 1, "RefNumberFilter": {"MatchCriterion": "StartsWith",
                                                                             "RefNumber": "1"}}, f"{n}.1")
               for n in range(2)]
    assert lookups.merge(limited) == limited
    paged = [f'<CustomerQueryRq requestID="{n}.1" iterator="Start"><FullName>A</FullName></CustomerQueryRq>'
             for n in range(2)]
    assert lookups.merge(paged) == paged


def test_the_sent_document_tells_which_shared_query_answers_a_job():
    fragments = [_query("CustomerQuery", {"FullName": n}, f"{i}.1") for i, n in enumerate(["A", "b", "C"])]
    fragments.append(_query("CustomerQuery", {"FullName": "Z", "IncludeRetElement": ["FullName"]}, "9.1"))
    document = build_message(lookups.merge(fragments))
    shared = lookups.shared_queries(document)

    for fragment in fragments[:3]:
        assert shared[lookups.lookup_of(fragment).slot] == "0.1"
    assert lookups.lookup_of(fragments[3]).slot not in shared  # alone: found by its own requestID


def test_a_refused_shared_query_is_about_every_key():
    refused = Response("CustomerQueryRs", "0.1", 3000, "Error", "The given object ID is invalid.")
    lookup = lookups.lookup_of(_query("CustomerQuery", {"FullName": "A"}, "1.1"))
    assert lookups.failed_as_a_whole(refused)
    assert lookups.answer_for(refused, lookup).status_code == 3000


def parse_id(fragment: str) -> str:
    return fragment.split('requestID="', 1)[1].split('"', 1)[0]


# Text parsing keeps as it is, changes (CR, and tabs and line breaks in attributes) or refuses.
_TRICKY = st.one_of(st.text(alphabet=st.sampled_from('a 1"\'\t\n\r]\x7fé🎉'), max_size=6),
                    st.text(alphabet=st.sampled_from('ab 1"&<>;\'\t\n\r\x01\x7fé€🎉\ufffe]'), max_size=8))


@given(
    request_type=st.sampled_from(["CustomerQueryRq", "SalesReceiptQueryRq", "CustomerAddRq", "HostQueryRq",
                                  "Customer-QueryRq"]),
    request_id=_TRICKY,
    field=st.sampled_from(["FullName", "RefNumber", "RefNumberCaseSensitive", "ListID"]),
    key=_TRICKY,
    before=st.sampled_from(["", "\n  ", " \r\n\t", "\x0c"]),
    after=st.sampled_from(["", "\n", "", "<!-- note -->", "<MaxReturned>2</MaxReturned>"]),
)
@settings(max_examples=400, deadline=None)
def test_a_lookup_read_off_its_text_is_the_one_parsing_finds(request_type, request_id, field, key, before,
                                                              after):
    fragment = (f'<{request_type} requestID="{request_id}">{before}<{field}>{key}</{field}>{after}'
                f"</{request_type}>")

    def outcome(read):  # the Lookup, or the error reading it raises
        try:
            return read(fragment)
        except Exception as error:  # noqa: BLE001 - the two must fail alike
            return type(error)

    assert outcome(lookups._lookup_of_query.__wrapped__) == outcome(lookups._parsed_lookup)


def test_names_with_markup_or_accents_are_looked_up_by_their_text():
    for name in ("Tom & Jerry's", "García, Wei", "<b>", " spaced  name ", "tab\there"):
        fragment = render_request("CustomerQuery", {"FullName": name}, request_id="7.1")
        found = lookups.lookup_of(fragment)
        assert found is not None and found.request_id == "7.1" and found.field == "FullName"
        assert found.slot == ("CustomerQueryRq|FullName@0|", lookups.matching_key("FullName", found.key))
    assert lookups.lookup_of(render_request("CustomerQuery", {"FullName": "Tom & Jerry's"}, request_id="1")
                             ).key == "Tom & Jerry's"


@pytest.mark.parametrize("key", ["a&b", "a&amp;b", "&#65;", "a\x01", "a\x0cb", "a\x1f", "a]]>b", "a>b",
                                 "a\ufffe", "a\rb", "a\r\nb", "x\ty\nz", " é🎉 "])
@pytest.mark.parametrize("request_id", ["5.1", "5\t1", "5\n1", "5&amp;1", "5\r1", "5>1", ""])
def test_keys_and_request_ids_parsing_changes_or_refuses_are_read_as_parsing_reads_them(key, request_id):
    fragment = f'<CustomerQueryRq requestID="{request_id}">\n  <FullName>{key}</FullName>\n</CustomerQueryRq>'
    assert lookups._lookup_of_query.__wrapped__(fragment) == lookups._parsed_lookup(fragment)


# Requests a sent document may hold, for the shared queries read off its text: look-ups (merged with
# their kind), adds whose text names queries and keys, a query naming two keys of its own, filters.
_REQUESTS = [
    lambda i, key: _query("CustomerQuery", {"FullName": key}, f"{i}.1"),
    lambda i, key: _query("SalesReceiptQuery", {"RefNumber": key[:11] or "1"}, f"{i}.1"),
    lambda i, key: _query("SalesReceiptQuery", {"RefNumberCaseSensitive": key[:11] or "1"}, f"{i}.1"),
    lambda i, key: _query("CustomerAdd", {"Name": key or "x", "Notes": "<CustomerQueryRq><FullName>"},
                          f"{i}.1"),
    lambda i, key: _query("AccountQuery", {"ActiveStatus": "All"}, f"{i}.1"),
    lambda i, key: _query("InvoiceQuery", {"RefNumberFilter": {"MatchCriterion": "StartsWith",
                                                               "RefNumber": key[:11] or "1"}}, f"{i}.1"),
    lambda i, key: (f'<CustomerQueryRq requestID="{i}.1"><FullName>a</FullName>'
                    f"<FullName>{key.replace('&', '&amp;').replace('<', '&lt;')}</FullName>"
                    "</CustomerQueryRq>"),
]
# What a document qbsync did not write might hold instead: read by parsing it all.
_TWO_KEYS = "<FullName>x</FullName><FullName>y</FullName>"
_NOT_PLAIN = [
    "",
    f'<!-- <CustomerQueryRq requestID="c.1">{_TWO_KEYS}</CustomerQueryRq> -->',
    f'<CustomerAddRq requestID="d.1"><CustomerAdd><Name><![CDATA[<CustomerQueryRq requestID="d.2">{_TWO_KEYS}'
    "</CustomerQueryRq>]]></Name></CustomerAdd></CustomerAddRq>",
    f'<?note <CustomerQueryRq requestID="p.1">{_TWO_KEYS}</CustomerQueryRq>?>',
    '<CustomerQueryRq requestID="s.1"/>',
    f'<CustomerQueryRq requestID="e.1">{_TWO_KEYS}</CustomerQueryRq >',
]


@given(
    picks=st.lists(st.tuples(st.integers(0, len(_REQUESTS) - 1),
                             st.text(alphabet=st.sampled_from("aB 1&<>\"'é€QueryRq"), max_size=12)),
                   max_size=12),
    odd=st.sampled_from(_NOT_PLAIN),
    at=st.integers(0, 12),
)
@settings(max_examples=300, deadline=None)
def test_the_shared_queries_read_off_a_documents_text_are_the_ones_parsing_it_finds(picks, odd, at):
    fragments = [_REQUESTS[kind](i, key) for i, (kind, key) in enumerate(picks)]
    document = build_message(lookups.merge(fragments))
    parsed = lookups._shared_slots(lookups._requests_parsed(document))
    assert lookups._plain_queries(document) is not None  # as qbsync writes it: read off its text
    assert list(lookups.shared_queries(document).items()) == list(parsed.items())

    if odd:
        fragments.insert(min(at, len(fragments)), odd)
        document = build_message(lookups.merge(fragments))
        parsed = lookups._shared_slots(lookups._requests_parsed(document))
        assert list(lookups.shared_queries(document).items()) == list(parsed.items())


def test_a_document_qbsync_did_not_write_is_parsed_for_its_shared_queries():
    query = '<CustomerQueryRq requestID="1.1"><FullName>a</FullName><FullName>b</FullName></CustomerQueryRq>'
    for document in (f"<QBXML><QBXMLMsgsRq>{query}</QBXMLMsgsRq></QBXML>",  # another prolog
                     build_message([query]).replace("\n</QBXML>", "\n</QBXML>\n<!-- end -->")):
        assert lookups._plain_queries(document) is None
        assert lookups.shared_queries(document) == {("CustomerQueryRq|FullName@0|", "a"): "1.1",
                                                    ("CustomerQueryRq|FullName@0|", "b"): "1.1"}


def test_a_jobs_part_of_a_shared_answer_keeps_everything_else_of_the_answer():
    answer = Response("CustomerQueryRs", "0.1", 0, "Info", "Status OK",
                      [{"FullName": "A", "ListID": "1"}, {"FullName": "B", "ListID": "2"}],
                      ["CustomerRet", "CustomerRet"], iterator_id="it", iterator_remaining_count=3,
                      ret_count=2, too_long=True)
    refused = dataclasses.replace(answer, status_code=3000, severity="Error", message="no", records=[],
                                  record_types=[], ret_count=None)
    missing = ('The query request has not been fully completed. There was a required element ("Z") that '
               "could not be found in QuickBooks.")
    for field, key, response, expected in [
        ("FullName", "a", answer, (0, "Info", "Status OK", [answer.records[0]], ["CustomerRet"], 1)),
        ("FullName", "Z", answer, (500, "Warn", missing, [], [], 0)),
        ("RefNumber", "Z", answer, (1, "Info", lookups.NO_MATCH, [], [], 0)),
        ("FullName", "a", refused, (3000, "Error", "no", [], [], None)),
    ]:
        lookup = lookups.Lookup("CustomerQueryRq", "7.1", field, key, "CustomerQueryRq|FullName@0|")
        status_code, severity, message, records, record_types, ret_count = expected
        # What dataclasses.replace gives: every other field as the answer has it (too_long too).
        assert vars(lookups.answer_for(response, lookup)) == vars(dataclasses.replace(
            response, request_id="7.1", status_code=status_code, severity=severity, message=message,
            records=records, record_types=record_types, ret_count=ret_count))


def test_many_jobs_sharing_one_answer_each_get_their_own_records_and_answers_are_not_mixed_up():
    """A merged answer is read through once for all its jobs (its records by key, kept by the caller): each
    still gets exactly its own records, and the same as without the index kept, answer after answer."""
    for round_trip in range(40):
        names = [f"Customer {round_trip}-{n}" for n in range(30)]
        records = [{"ListID": f"{round_trip}-{n}", "FullName": name.upper() if n % 2 else name}
                   for n, name in enumerate(names) if n % 3]  # every third one is not in QuickBooks
        answer = Response("CustomerQueryRs", "0.1", 0, "Info", "Status OK", records,
                          ["CustomerRet"] * len(records), ret_count=len(records))
        by_key = lookups.records_by_key(answer, "FullName")
        for n, name in enumerate(names):
            lookup = lookups.lookup_of(_query("CustomerQuery", {"FullName": name.lower()}, f"{n}.1"))
            own = lookups.answer_for(answer, lookup, by_key)
            assert own == lookups.answer_for(answer, lookup)
            if n % 3:
                assert [r["ListID"] for r in own.records] == [f"{round_trip}-{n}"]
                assert (own.status_code, own.ret_count, own.request_id) == (0, 1, f"{n}.1")
            else:
                assert (own.status_code, own.records) == (500, [])
