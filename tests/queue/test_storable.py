"""Values in QuickBooks' answers too long for qbsync to keep (``queue.storable``, issue 16).

The parser notes, as it reads an answer, whether any value is longer than qbsync keeps
(``Response.too_long``), so a usual answer is not walked a second time; the walk (``first_too_long``) still
decides which value the reason names. These tests fail if the note misses a long value (wherever it sits)
or flags one that fits, and compare the noted answer with the full walk on every stored real answer.
"""

from __future__ import annotations

import re

import pytest

from qbsync.qbxml.limits import STORED_MAX_CHARS
from qbsync.qbxml.parse import Response, parse_response
from qbsync.qbxml.render import render_request
from qbsync.queue import lookups
from qbsync.queue.storable import first_too_long, unstorable

# A sales receipt as QuickBooks answers an add: the limited names at the top, in a reference and in a line.
_RECEIPT = """<?xml version="1.0" ?>
<QBXML><QBXMLMsgsRs>
<SalesReceiptAddRs requestID="7.1" statusCode="0" statusSeverity="Info" statusMessage="Status OK">
<SalesReceiptRet>
<TxnID>{TxnID}</TxnID><EditSequence>{EditSequence}</EditSequence>
<CustomerRef><ListID>80003579-1231522938</ListID><FullName>Test, Tom</FullName></CustomerRef>
<RefNumber>{RefNumber}</RefNumber>
<SalesReceiptLineRet><TxnLineID>141CA7-1231522949</TxnLineID>
<ItemRef><ListID>200001-1143815300</ListID><FullName>gift card</FullName></ItemRef><Amount>1.00</Amount>
</SalesReceiptLineRet>
<SalesReceiptLineRet><TxnLineID>{TxnLineID}</TxnLineID>
<ItemRef><ListID>{ListID}</ListID><FullName>{FullName}</FullName></ItemRef><Amount>2.00</Amount>
</SalesReceiptLineRet>
</SalesReceiptRet>
</SalesReceiptAddRs>
<CustomerAddRs requestID="8.1" statusCode="0" statusSeverity="Info" statusMessage="Status OK">
<CustomerRet><ListID>80000001-1231522938</ListID><EditSequence>1231522938</EditSequence><Name>{Name}</Name>
</CustomerRet>
</CustomerAddRs>
</QBXMLMsgsRs></QBXML>"""

_SHORT = {"TxnID": "141CA5-1231522949", "EditSequence": "1231522949", "RefNumber": "16466",
          "TxnLineID": "141CA8-1231522949", "ListID": "200002-1143815300", "FullName": "mug",
          "Name": "Test, Tom"}


def _receipt(**values: str) -> list[Response]:
    return list(parse_response(_RECEIPT.format(**{**_SHORT, **values})))


def _reason(name: str, value: str) -> str:
    return (f"QuickBooks answered with a {name} of {len(value)} characters; qbsync can keep at most "
            f"{STORED_MAX_CHARS[name]} (it begins {value[:20]!r}), so this record was not linked")


def test_a_usual_answer_is_noted_as_fitting_and_not_walked_again():
    for response in _receipt():
        assert response.too_long is False
        assert unstorable(response) is None


@pytest.mark.parametrize("name", sorted(STORED_MAX_CHARS))
def test_a_value_one_character_too_long_is_found_wherever_it_sits_and_one_that_fits_is_not(name):
    limit = STORED_MAX_CHARS[name]
    fits = _receipt(**{name: "7" * limit})
    assert [r.too_long for r in fits] == [False, False]
    assert [unstorable(r) for r in fits] == [None, None]

    long_value = "7" * (limit + 1)
    receipt, customer = _receipt(**{name: long_value})
    answer, other = (customer, receipt) if name == "Name" else (receipt, customer)
    assert answer.too_long is True and other.too_long is False  # the answer that holds it, only
    assert unstorable(answer) == _reason(name, long_value) == first_too_long(answer.records)
    assert unstorable(other) is None


def test_a_too_long_value_deep_in_a_line_is_found():
    # The ItemRef of the second line: two levels below the record, in a list.
    long_id = "80000001-" + "8" * 5000
    (receipt, _) = _receipt(ListID=long_id)
    assert receipt.record["SalesReceiptLineRet"][1]["ItemRef"]["ListID"] == long_id
    assert unstorable(receipt) == _reason("ListID", long_id)


def test_a_too_long_value_in_elements_the_schema_does_not_know_is_found():
    # Answers may carry elements our schema lacks (a newer QuickBooks): read as found, checked by name.
    long_id = "9" * 41
    xml = _RECEIPT.format(**_SHORT).replace(
        "<Amount>2.00</Amount>", f"<Amount>2.00</Amount><NewThing><ListID>{long_id}</ListID></NewThing>")
    receipt = parse_response(xml).responses[0]
    assert receipt.record["SalesReceiptLineRet"][1]["NewThing"] == {"ListID": long_id}
    assert receipt.too_long is True
    assert unstorable(receipt) == _reason("ListID", long_id)


def test_an_answer_built_by_hand_is_walked():
    long_id = "8" * 41
    response = Response("CustomerAddRs", "1", 0, "Info", "Status OK", records=[{"ListID": long_id}],
                        record_types=["CustomerRet"])
    assert response.too_long is None
    assert unstorable(response) == _reason("ListID", long_id)


def test_each_job_of_a_shared_look_up_is_judged_on_its_own_records():
    long_id = "8" * 41
    answer = parse_response(f"""<QBXML><QBXMLMsgsRs>
<CustomerQueryRs requestID="1.1" statusCode="0" statusSeverity="Info" statusMessage="Status OK">
<CustomerRet><ListID>80000001-1</ListID><Name>Doe</Name><FullName>Doe</FullName></CustomerRet>
<CustomerRet><ListID>{long_id}</ListID><Name>Smith</Name><FullName>Smith</FullName></CustomerRet>
</CustomerQueryRs></QBXMLMsgsRs></QBXML>""").responses[0]
    assert answer.too_long is True

    def share(name: str, request_id: str) -> Response:
        lookup = lookups.lookup_of(render_request("CustomerQuery", {"FullName": name}, request_id=request_id))
        assert lookup is not None
        return lookups.answer_for(answer, lookup)

    doe, smith = share("Doe", "2.1"), share("Smith", "3.1")
    assert [r["ListID"] for r in doe.records] == ["80000001-1"] and unstorable(doe) is None
    assert unstorable(smith) == _reason("ListID", long_id)


_LIMITED = re.compile(r"<(" + "|".join(STORED_MAX_CHARS) + r")>([^<]*)</\1>")


def _with_length(xml: str, index: int, length: int) -> str:
    """``xml`` with the ``index``-th limited value made ``length`` characters long."""
    match = list(_LIMITED.finditer(xml))[index]
    return xml[:match.start(2)] + "5" * length + xml[match.end(2):]


def test_the_note_agrees_with_the_full_walk_on_every_stored_answer(reference_dir):
    samples_dir = reference_dir / "qbxml" / "samples"
    files = [p for p in sorted(samples_dir.rglob("*.xml"))
             if "requests" not in p.parts and "_rq" not in p.name]
    checked = 0
    for path in files:
        xml = path.read_text(encoding="utf-8")
        for response in parse_response(xml):
            assert response.too_long is False, path.name  # real answers fit
        for index, match in enumerate(_LIMITED.finditer(xml)):
            limit = STORED_MAX_CHARS[match.group(1)]
            for length, too_long in ((limit, False), (limit + 1, True)):
                responses = list(parse_response(_with_length(xml, index, length)))
                # Never a value missed: wherever the walk finds one, the parser noted one.
                for response in responses:
                    assert unstorable(response) == first_too_long(response.records), (path.name, index)
                    assert response.too_long or first_too_long(response.records) is None
                assert any(r.too_long for r in responses) is too_long, (path.name, index, length)
                checked += 1
    assert checked > 200
