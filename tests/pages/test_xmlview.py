"""Showing qbXML and JSON on pages: indentation, and credentials masked however they appear."""

from __future__ import annotations

from qbsync.service.pages.xmlview import MASKED, Masker


def test_xml_is_indented_and_keeps_its_declaration_and_qbxml_instruction():
    shown = Masker().xml('<?xml version="1.0"?><?qbxml version="16.0"?><QBXML>'
                         '<QBXMLMsgsRq onError="stopOnError"><CustomerQueryRq requestID="1">'
                         '<FullName>A &amp; B</FullName></CustomerQueryRq>'
                         '</QBXMLMsgsRq></QBXML>')
    assert shown.splitlines() == [
        '<?xml version="1.0"?>',
        '<?qbxml version="16.0"?>',
        "<QBXML>",
        '  <QBXMLMsgsRq onError="stopOnError">',
        '    <CustomerQueryRq requestID="1">',
        "      <FullName>A &amp; B</FullName>",
        "    </CustomerQueryRq>",
        "  </QBXMLMsgsRq>",
        "</QBXML>",
    ]


def test_credential_elements_attributes_and_values_are_masked():
    masker = Masker.of(["my-webhook-secret"])
    shown = masker.xml(
        "<root><strPassword>hunter22</strPassword><CreditCardNumber>4111111111111111</CreditCardNumber>"
        '<Memo token="abc123">paid with shpat_0123456789abcdef0123 and my-webhook-secret</Memo>'
        "<Header>Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload</Header></root>")
    for secret in ("hunter22", "4111111111111111", "abc123", "shpat_0123456789abcdef0123",
                   "my-webhook-secret", "eyJhbGciOiJIUzI1NiJ9"):
        assert secret not in shown
    assert f"<strPassword>{MASKED}</strPassword>" in shown
    assert "Bearer ••••••••" in shown
    assert "••••••••cret" in shown  # known secrets keep their last four characters, like the pages' masks


def test_entities_are_never_expanded_and_bad_xml_is_shown_as_it_is_but_masked():
    hostile = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><r>&e;</r>')
    assert "root:" not in Masker().xml(hostile)
    broken = "<a><password>hunter22</a> ck_" + "ab" * 15
    assert Masker().xml(broken) == f"<a><password>{MASKED}</a> ••••••••abab"


def test_json_values_under_credential_keys_are_masked():
    data = {"headers": {"X-WC-Webhook-Signature": "c2lnbmF0dXJl", "Content-Type": "application/json"},
            "api": {"consumer_secret": "cs_abcdef", "access_token": 12345678}, "note": "plain",
            "lines": [{"password": "p"}]}
    shown = Masker().data(data)
    assert shown["headers"]["Content-Type"] == "application/json"
    assert shown["headers"]["X-WC-Webhook-Signature"] == "••••••••dXJl"
    assert shown["api"] == {"consumer_secret": "••••••••cdef", "access_token": MASKED}
    assert shown["lines"] == [{"password": "•"}]
    assert shown["note"] == "plain"
