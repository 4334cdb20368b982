"""Value cleaning: what QuickBooks receives for amounts, prices, quantities, dates and text."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qbsync.qbxml.values import (
    clean_text,
    format_amount,
    format_bool,
    format_date,
    format_datetime,
    format_decimal,
    format_int,
    format_price,
    format_quantity,
)

# The patterns of qbxmltypes130.xsd.
AMTTYPE = re.compile(r"[+\-]?[0-9]{1,13}(\.[0-9]{2})?")
PRICETYPE = re.compile(r"[+\-]?[0-9]{1,10}(\.[0-9]{1,5})?")
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@pytest.mark.parametrize(
    ("given_value", "sent"),
    [
        (Decimal("1234.5"), "1234.50"),
        ("19.99", "19.99"),
        (10, "10.00"),
        (2.675, "2.68"),  # the float as written, rounded half-up (not binary 2.67499...)
        (Decimal("0.005"), "0.01"),
        ("-1.005", "-1.01"),
        (Decimal("-0.001"), "0.00"),
        (" 7 ", "7.00"),
        (Decimal("9999999999999.99"), "9999999999999.99"),
    ],
)
def test_amounts_have_exactly_two_decimals_rounded_half_up(given_value, sent):
    assert format_amount(given_value) == sent


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("1,234.50", "thousands separators"),
        ("$5", "not a plain decimal"),
        ("1e5", "not a plain decimal"),
        (float("nan"), "not a finite number"),
        (Decimal("Infinity"), "not a finite number"),
        (10**13, "too large"),
        (Decimal("9999999999999.995"), "rounds to 10000000000000.00"),
        (True, "must be a number"),
        (None, "must be a Decimal"),
    ],
)
def test_bad_amounts_are_refused_with_the_reason(bad, reason):
    with pytest.raises(ValueError, match=reason):
        format_amount(bad)


@given(
    st.decimals(
        min_value=Decimal("-9999999999999.99"),
        max_value=Decimal("9999999999999.99"),
        allow_nan=False,
        allow_infinity=False,
    )
)
@settings(max_examples=200, deadline=None)
def test_every_amount_in_range_matches_amttype(number):
    text = format_amount(number)
    assert AMTTYPE.fullmatch(text) and text.count(".") == 1 and len(text.split(".")[1]) == 2
    assert abs(Decimal(text) - number) <= Decimal("0.005")


@pytest.mark.parametrize(
    ("given_value", "sent"),
    [
        (Decimal("19.990"), "19.99"),
        (3, "3"),
        ("0.123456", "0.12346"),
        ("-0.000001", "0"),
        (Decimal("1E+3"), "1000"),
        (Decimal("2.000005"), "2.00001"),
        (-4.5, "-4.5"),
    ],
)
def test_prices_and_quantities_have_at_most_five_decimals(given_value, sent):
    assert format_price(given_value) == sent
    assert format_quantity(given_value) == sent


@given(
    st.decimals(
        min_value=Decimal("-9999999999.99999"),
        max_value=Decimal("9999999999.99999"),
        allow_nan=False,
        allow_infinity=False,
    )
)
@settings(max_examples=200, deadline=None)
def test_every_quantity_in_range_matches_quantype(number):
    assert PRICETYPE.fullmatch(format_quantity(number))


def test_prices_beyond_ten_digits_are_refused():
    with pytest.raises(ValueError, match="at most 10 digits"):
        format_price(Decimal("10000000000"))


def test_other_simple_values():
    assert format_int(100) == "100" and format_int(" 5 ") == "5"
    with pytest.raises(ValueError):
        format_int(True)
    with pytest.raises(ValueError):
        format_int(2.5)
    assert format_bool(True) == "true" and format_bool("FALSE") == "false"
    with pytest.raises(ValueError, match="true or false"):
        format_bool(1)
    assert format_decimal(Decimal("1.2500")) == "1.25" and format_decimal(3) == "3"


def test_dates():
    assert format_date(dt.date(2024, 3, 1)) == "2024-03-01"
    assert format_date(dt.datetime(2024, 3, 1, 23, 59)) == "2024-03-01"
    assert format_date("2024-03-01T10:00:00Z") == "2024-03-01"
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        format_date("03/01/2024")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        format_date("2024-02-30")


def test_datetimes_carry_an_offset_and_naive_ones_are_utc():
    assert format_datetime(dt.datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05+00:00"
    eastern = dt.timezone(dt.timedelta(hours=-5))
    assert (
        format_datetime(dt.datetime(2024, 1, 2, 3, 4, 5, 999, tzinfo=eastern)) == "2024-01-02T03:04:05-05:00"
    )
    india = dt.timezone(dt.timedelta(hours=5, minutes=30))
    assert format_datetime(dt.datetime(2024, 1, 2, tzinfo=india)) == "2024-01-02T00:00:00+05:30"
    assert format_datetime("2024-01-02T03:04:05Z") == "2024-01-02T03:04:05+00:00"
    assert format_datetime("2024-01-02") == "2024-01-02"
    with pytest.raises(ValueError, match="date and time"):
        format_datetime("yesterday")


@pytest.mark.parametrize(
    ("given_text", "sent"),
    [
        ("Café Crème", "Café Crème"),  # Windows-1252 accents stay
        ("Œuvre — “quoted” €5", "Œuvre — “quoted” €5"),
        ("Kőszeg Łódź", "Koszeg Lódz"),  # accents outside Windows-1252 fold to the base letter
        ("Party 🎉 time 👍🏽", "Party time"),  # emoji go
        ("王小明", "???"),  # letters QuickBooks cannot store still show something was there
        ("ﬁne", "fine"),
        ("a\x00b\x07c\x1bd\x7fe\x85f", "abcde f"),  # controls go; NEL is a line break
        ("  lots   of\tspace\r\nand lines  ", "lots of space and lines"),
        ("zero\u200bwidth", "zerowidth"),
        ("e\u0301", "é"),  # decomposed accents are composed first
        (12797, "12797"),
        (Decimal("1.50"), "1.50"),
    ],
)
def test_text_is_made_storable_for_quickbooks(given_text, sent):
    assert clean_text(given_text) == sent


def test_multiline_text_keeps_line_breaks_as_crlf():
    assert (
        clean_text("one\r\ntwo\rthree\nfour\u2028five", multiline=True)
        == "one\r\ntwo\r\nthree\r\nfour\r\nfive"
    )
    assert clean_text("  para  one \n\n para two  ", multiline=True) == "para one\r\n\r\npara two"


def test_text_is_cut_to_the_limit_without_a_dangling_space_or_half_line_break():
    assert clean_text("x" * 300, 41) == "x" * 41
    assert clean_text("abc def", 4) == "abc"
    assert clean_text("abc\ndef", 4, multiline=True) == "abc"


def test_non_text_is_refused():
    for bad in (None, True, ["a"], {"a": 1}, 1.5):
        with pytest.raises(ValueError, match="text expected"):
            clean_text(bad)


@given(st.text(max_size=200), st.integers(min_value=1, max_value=60), st.booleans())
@settings(max_examples=300, deadline=None)
def test_clean_text_always_gives_xml_legal_storable_text_within_the_limit(text, limit, multiline):
    cleaned = clean_text(text, limit, multiline=multiline)
    assert len(cleaned) <= limit
    assert not XML_ILLEGAL.search(cleaned)
    cleaned.encode("cp1252")
    assert cleaned == cleaned.strip()
    if not multiline:
        assert "\n" not in cleaned and "\r" not in cleaned


@pytest.mark.parametrize(
    ("format_value", "given_value", "sent"),
    [
        (format_amount, Decimal("1E+2"), "100.00"),
        (format_amount, Decimal("-0.001"), "0.00"),
        (format_amount, Decimal("0.005"), "0.01"),
        (format_amount, Decimal("-9999999999999.99"), "-9999999999999.99"),
        (format_price, Decimal("1E+3"), "1000"),
        (format_price, Decimal("1E-5"), "0.00001"),
        (format_price, Decimal("-1.5E-7"), "0"),
        (format_quantity, Decimal("9999999999.99999"), "9999999999.99999"),
    ],
)
def test_numbers_are_written_plainly_whatever_their_exponent(format_value, given_value, sent):
    assert format_value(given_value) == sent
