"""Status-code classification and explanations; qbXML version negotiation and the HCP response."""

from __future__ import annotations

import pytest

from qbsync.qbxml import (
    Outcome,
    QbxmlParseError,
    QbxmlVersionError,
    QuickBooksTooOldError,
    classify,
    explain,
    negotiate_version,
    parse_host_response,
)

# Every code of PROTOCOL.md's status table, with its severity as QuickBooks sends it.
DOCUMENTED = [
    (0, "Info", Outcome.SUCCESS),
    (1, "Info", Outcome.NO_MATCH),
    (500, "Warn", Outcome.WARNING),
    (530, "Warn", Outcome.WARNING),
    (531, "Warn", Outcome.WARNING),
    (560, "Warn", Outcome.WARNING),
    (1000, "Error", Outcome.RETRY),
    (1010, "Error", Outcome.RETRY),
    (1060, "Error", Outcome.PERMANENT),
    (3000, "Error", Outcome.PERMANENT),
    (3010, "Error", Outcome.PERMANENT),
    (3020, "Error", Outcome.PERMANENT),
    (3030, "Error", Outcome.PERMANENT),
    (3040, "Error", Outcome.PERMANENT),
    (3070, "Error", Outcome.PERMANENT),
    (3100, "Error", Outcome.NAME_IN_USE),
    (3120, "Error", Outcome.NOT_FOUND),
    (3140, "Error", Outcome.MISSING_REFERENCE),
    (3150, "Error", Outcome.PERMANENT),
    (3170, "Error", Outcome.RETRY),
    (3175, "Error", Outcome.RETRY),
    (3176, "Error", Outcome.RETRY),
    (3180, "Error", Outcome.RETRY),
    (3200, "Error", Outcome.STALE_EDIT_SEQUENCE),
    (3210, "Info", Outcome.PERMANENT),  # QuickBooks says Info, yet the payment was refused
    (3231, "Error", Outcome.RETRY),
    (3250, "Error", Outcome.PERMANENT),
    (3260, "Error", Outcome.PERMANENT),
    (3261, "Error", Outcome.PERMANENT),
    (3262, "Error", Outcome.PERMANENT),
]


@pytest.mark.parametrize(("code", "severity", "outcome"), DOCUMENTED)
def test_documented_codes_are_classified(code, severity, outcome):
    assert classify(code, severity) is outcome


def test_3180_is_transient_only_for_lock_problems():
    locked = (
        'There was an error when saving a Customer list, element "X". QuickBooks error message: '
        "This list has been modified by another user."
    )
    assert classify(3180, "Error", locked) is Outcome.RETRY
    assert classify(3180, "Error", "... could not be locked") is Outcome.RETRY
    assert classify(3180, "Error", "... failed to acquire the lock") is Outcome.RETRY
    rule = (
        'There was an error when saving a Invoice, element "1". QuickBooks error message: The date is closed.'
    )
    assert classify(3180, "Error", rule) is Outcome.PERMANENT


def test_undocumented_codes_fall_back_by_range_and_severity():
    assert classify(510, "Warn") is Outcome.WARNING
    assert classify(20, "Info") is Outcome.SUCCESS
    assert classify(2000, "Error") is Outcome.PERMANENT
    assert classify(9001, "Info") is Outcome.PERMANENT


@pytest.mark.parametrize("code", [code for code, _, _ in DOCUMENTED])
def test_every_documented_code_has_its_own_plain_explanation(code):
    explanation = explain(code)
    assert explanation.title and explanation.plain_words and explanation.fix
    assert str(code) not in explanation.title  # its own words, not the generic "QuickBooks error N"


def test_explanations_speak_to_a_bookkeeper():
    assert "already" in explain(3100).plain_words and "customer" in explain(3100).plain_words
    assert "map" in explain(3100).fix.lower()
    assert "again" in explain(3231).fix
    generic = explain(3999)
    assert generic.title == "QuickBooks error 3999" and generic.fix
    assert explain(777).title == "QuickBooks warning 777"
    assert "edition" in explain(2001).plain_words


@pytest.mark.parametrize(
    ("major", "minor", "supported", "wanted", "spoken"),
    [
        (13, 0, (), "13.0", "13.0"),
        (14, 0, (), "13.0", "13.0"),
        (16, 0, (), "13.0", "13.0"),  # 16.0 only when asked for
        (16, 0, (), "16.0", "16.0"),
        (15, 0, (), "16.0", "13.0"),  # asked for, but QuickBooks cannot
        (16, 0, ("13.0", "14.0", "15.0"), "16.0", "13.0"),  # HostRet's list has the last word
        (16, 0, ("CA13.0", "13.0", "16.0"), "16.0", "16.0"),
        (0, 0, ("12.0", "13.0"), "13.0", "13.0"),  # not reported: HostRet decides
    ],
)
def test_version_negotiation(major, minor, supported, wanted, spoken):
    assert negotiate_version(major, minor, supported, wanted=wanted) == spoken


def test_old_quickbooks_is_refused_in_a_bookkeepers_words():
    with pytest.raises(QuickBooksTooOldError) as caught:
        negotiate_version(5, 0)
    assert str(caught.value).startswith(
        "QuickBooks reports qbXML 5.0 (QuickBooks 2006 or older); qbsync needs qbXML 13.0, "
        "i.e. QuickBooks Desktop 2014 or newer."
    )
    with pytest.raises(QuickBooksTooOldError, match="qbXML 12.0"):
        negotiate_version(14, 0, ["1.0", "12.0"])
    assert issubclass(QuickBooksTooOldError, QbxmlVersionError)


def test_nonsense_versions_are_refused():
    with pytest.raises(QbxmlVersionError, match="did not report"):
        negotiate_version(0, 0)
    with pytest.raises(QbxmlVersionError, match="makes no sense"):
        negotiate_version(-1, 0)
    with pytest.raises(QbxmlVersionError, match="not supported"):
        negotiate_version(16, 0, wanted="15.0")


def test_the_hcp_sample_is_read(samples_dir):
    text = (samples_dir / "captured" / "hcp_host_company_preferences_rs.QBPro2006.2008.xml").read_text()
    host = parse_host_response(text)
    assert host["product_name"] == "QuickBooks Pro 2006"
    assert (host["major_version"], host["minor_version"], host["country"]) == (16, 0, "US")
    assert host["supported_qbxml_versions"] == ["1.0", "1.1", "2.0", "2.1", "3.0", "4.0", "4.1", "5.0"]
    assert host["max_qbxml_version"] == "5.0" and host["file_mode"] == "SingleUser"
    assert host["company_name"] == "Test Company"
    assert host["file_id"] == "{ee032e95-47f7-2564-096f-2d4545fcb021}"
    assert {d["name"] for d in host["data_ext"]} == {"AppLock", "FileID"}
    assert host["preferences"]["AccountingPreferences"]["IsUsingAuditTrail"] == "true"
    mine = parse_host_response(text, owner_id="{68B5925B-4347-4784-E58D-35A2D190962F}")
    assert mine["file_id"] == "{ee032e95-47f7-2564-096f-2d4545fcb021}"
    assert parse_host_response(text, owner_id="{00000000-0000-0000-0000-000000000000}")["file_id"] is None
    with pytest.raises(QuickBooksTooOldError, match="QuickBooks 2006"):
        negotiate_version(5, 0, host["supported_qbxml_versions"])


def test_later_calls_and_pos_are_handled():
    assert parse_host_response("") == {}
    assert parse_host_response("  ") == {}
    with pytest.raises(QbxmlParseError):
        parse_host_response("HOSTQUERY/COMPANYQUERY/PREFQUERY is currently not supported in QBPOS.")
