"""Turn Python values into the text qbXML expects (pure functions, no I/O).

Each function takes what a storefront or the sync engine naturally has (``Decimal``, ``int``, ``str``,
``date``, ``datetime``, ``bool``) and returns the exact string for the element, or raises ``ValueError``
saying what is wrong. Formats follow ``qbxmltypes130.xsd``:

* AMTTYPE ``[+-]?d{1,13}(.dd)?``: amounts always carry exactly two decimals, rounded half-up.
* PRICETYPE / QUANTYPE / PERCENTTYPE ``[+-]?d{1,10}(.d{1,5})?``: at most five decimals, trailing zeros
  dropped.
* DATETYPE ``YYYY-MM-DD``; DATETIMETYPE ``YYYY-MM-DDThh:mm:ss±hh:mm`` (naive datetimes are UTC, as everywhere
  in qbsync).

Text policy. QuickBooks Desktop stores text in the Windows-1252 code page, not Unicode: characters outside it
come out as ``?`` or make QuickBooks reject the whole message (emoji are the usual culprit). So ``clean_text``
keeps every Windows-1252 character (accents, €, curly quotes, dashes), folds other accented letters to their
base letter (``ő`` -> ``o``), drops emoji and other symbols, and writes ``?`` for letters that have no
Windows-1252 form (so a name in another script still shows that something was there). Control characters are
removed; single-line fields get their whitespace collapsed; multi-line fields (memo, notes, descriptions) keep
their line breaks as CR LF, which is what QuickBooks, a Windows program, shows as a new line.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal

#: The code page QuickBooks Desktop keeps its text in.
QUICKBOOKS_CODEPAGE = "cp1252"

AMOUNT_INTEGER_DIGITS = 13  # AMTTYPE
PRICE_INTEGER_DIGITS = 10  # PRICETYPE, QUANTYPE, PERCENTTYPE
PRICE_DECIMALS = 5
#: Fields this long (Memo, Notes, Desc, SalesDesc...) are free text and keep their line breaks.
MULTILINE_MIN_LENGTH = 4095

_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")
_CENT = Decimal("0.01")
_PRICE_STEP = Decimal(1).scaleb(-PRICE_DECIMALS)
# The first magnitudes beyond AMTTYPE and PRICETYPE, worked out once (not twice per number formatted).
_AMOUNT_LIMIT = Decimal(10) ** AMOUNT_INTEGER_DIGITS
_PRICE_LIMIT = Decimal(10) ** PRICE_INTEGER_DIGITS
# XML 1.0 forbids C0 controls other than tab/newline/return; C1 controls and DEL are legal XML but
# QuickBooks has no use for them. Noncharacters and lone surrogates cannot be encoded at all.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")
_NEWLINES = re.compile("\r\n|[\r\n\x0b\x0c\x85\u2028\u2029]")
_SPACES = re.compile(r"\s+")
_LINE_SPACES = re.compile(r"[^\S\n]+")


def _decimal(value: object, what: str) -> Decimal:
    """``value`` as a finite Decimal; strings must be plain numbers (no thousands separators, no currency)."""
    if type(value) is Decimal:  # the usual (amounts and prices are kept as Decimal): no further type checks
        number = value
    elif isinstance(value, bool):
        raise ValueError(f"{what} must be a number, not {value!r}")
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))  # the float as written, not its binary expansion
    elif isinstance(value, str):
        text = value.strip()
        if not _PLAIN_NUMBER.fullmatch(text):
            raise ValueError(
                f"{what} {value!r} is not a plain decimal number "
                "(use digits and one '.', no thousands separators or currency signs)"
            )
        number = Decimal(text)
    else:
        raise ValueError(f"{what} must be a Decimal, int or numeric string, not {type(value).__name__}")
    if not number.is_finite():
        raise ValueError(f"{what} {value!r} is not a finite number")
    return number


def format_amount(value: object) -> str:
    """An AMTTYPE amount: ``Decimal("1234.5")`` -> ``"1234.50"``; rounds half-up to cents.

    Raises ValueError beyond AMTTYPE's 13 integer digits (QuickBooks cannot hold it).
    """
    number = _decimal(value, "amount")
    if abs(number) >= _AMOUNT_LIMIT:
        raise ValueError(
            f"amount {value} is too large for QuickBooks "
            f"(at most {AMOUNT_INTEGER_DIGITS} digits before the point)"
        )
    rounded = number.quantize(_CENT, rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)  # no "-0.00"
    if abs(rounded) >= _AMOUNT_LIMIT:  # 9999999999999.995 rounds up past the limit
        raise ValueError(f"amount {value} rounds to {rounded}, too large for QuickBooks")
    # str() writes a Decimal with two decimals (an exponent of -2) plainly, as f"{:f}" does, and faster.
    return str(rounded)


def _format_fine(value: object, what: str) -> str:
    number = _decimal(value, what)
    if abs(number) >= _PRICE_LIMIT:
        raise ValueError(
            f"{what} {value} is too large for QuickBooks "
            f"(at most {PRICE_INTEGER_DIGITS} digits before the point)"
        )
    rounded = number.quantize(_PRICE_STEP, rounding=ROUND_HALF_UP)
    if abs(rounded) >= _PRICE_LIMIT:
        raise ValueError(f"{what} {value} rounds to {rounded}, too large for QuickBooks")
    text = str(abs(rounded)).rstrip("0").rstrip(".")  # plain, as f"{:f}" (an exponent of -5: no E)
    return text if rounded >= 0 or text == "0" else f"-{text}"


def format_price(value: object) -> str:
    """A PRICETYPE price or rate: at most 5 decimals, half-up, no trailing zeros (``"19.99"``, ``"3"``)."""
    return _format_fine(value, "price")


def format_quantity(value: object) -> str:
    """A QUANTYPE quantity: at most 5 decimals, half-up, trailing zeros dropped (``"2"``, ``"0.125"``)."""
    return _format_fine(value, "quantity")


def format_percent(value: object) -> str:
    """A PERCENTTYPE percentage (``8.25`` means 8.25 %): at most 5 decimals."""
    return _format_fine(value, "percent")


def format_int(value: object) -> str:
    """An INTTYPE whole number (``MaxReturned``, ``ExpirationMonth``)."""
    if isinstance(value, bool):
        raise ValueError(f"whole number expected, not {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
        return str(int(value))
    raise ValueError(f"whole number expected, not {value!r}")


def format_bool(value: object) -> str:
    """A BOOLTYPE flag: ``True`` -> ``"true"``; the strings "true"/"false" are accepted as they are."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower()
    raise ValueError(f"true or false expected, not {value!r}")


def format_date(value: object) -> str:
    """A DATETYPE date ``YYYY-MM-DD`` from a date, a datetime (its date) or an ISO string."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        try:
            return dt.date.fromisoformat(text[:10] if "T" in text else text).isoformat()
        except ValueError:
            pass
    raise ValueError(f"date expected (YYYY-MM-DD), not {value!r}")


def format_datetime(value: object) -> str:
    """A DATETIMETYPE ``YYYY-MM-DDThh:mm:ss±hh:mm``; naive datetimes are taken as UTC.

    A plain date is sent as ``YYYY-MM-DD``, which the type also allows (midnight, QuickBooks' local time).
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            has_time = "T" in text or " " in text
            value = dt.datetime.fromisoformat(text) if has_time else dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"date and time expected (YYYY-MM-DDThh:mm:ss), not {value!r}") from None
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        offset = moment.utcoffset() or dt.timedelta(0)
        minutes = int(offset.total_seconds()) // 60
        sign = "-" if minutes < 0 else "+"
        hours, mins = divmod(abs(minutes), 60)
        return f"{moment:%Y-%m-%dT%H:%M:%S}{sign}{hours:02d}:{mins:02d}"
    if isinstance(value, dt.date):
        return value.isoformat()
    raise ValueError(f"date and time expected, not {value!r}")


# Latin letters that Unicode does not decompose into a base letter plus an accent.
_UNDECOMPOSABLE = str.maketrans("ŁłĐđĦħıŦŧĸſ", "LlDdHhiTtks")


def _fold(char: str) -> str:
    """A character QuickBooks can store in place of ``char`` (which is not in its code page)."""
    char = char.translate(_UNDECOMPOSABLE)
    base = "".join(
        c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c) and _storable(c)
    )
    if base:
        return base
    return "?" if unicodedata.category(char)[0] in "LN" else ""


def _storable(char: str) -> bool:
    try:
        char.encode(QUICKBOOKS_CODEPAGE)
    except UnicodeEncodeError:
        return False
    return True


@functools.lru_cache(maxsize=4096)
def _storable_form(char: str) -> str:
    """``char`` itself when QuickBooks can store it, else what stands in for it (cached: text repeats)."""
    return char if _storable(char) else _fold(char)


def _clean_unusual(text: str, multiline: bool) -> str:
    """``clean_text`` for text with line breaks, controls or characters beyond ASCII (before the cut)."""
    text = unicodedata.normalize("NFC", text)
    text = _NEWLINES.sub("\n", text)
    text = _CONTROL.sub("", text)
    if not text.isascii():
        text = "".join(c if c.isascii() else _storable_form(c) for c in text)
    if multiline:
        text = "\n".join(_LINE_SPACES.sub(" ", line).strip() for line in text.split("\n")).strip()
        return text.replace("\n", "\r\n")
    return _SPACES.sub(" ", text).strip()


def clean_text(value: object, max_length: int | None = None, *, multiline: bool = False) -> str:
    """Text QuickBooks will accept, cut to ``max_length`` characters (see the module doc for the policy).

    Numbers are accepted and written as they print (an item named ``12797``). Line breaks are kept only when
    ``multiline`` is true, as CR LF (two characters, as QuickBooks and the XSD count them).
    """
    if type(value) is str:  # nearly always: no further type checks
        text = value
    elif isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError(f"text expected, not {type(value).__name__} {value!r}")
    else:
        text = str(value)
    if text.isascii() and text.isprintable():
        # The common case (names, SKUs, numbers): nothing to normalize, fold or remove, no line breaks,
        # and the only whitespace is the space, so single- and multi-line cleaning agree.
        if "  " in text or len(text.strip(" ")) != len(text):  # doubled, leading or trailing spaces
            text = " ".join(text.split())
    else:
        text = _clean_unusual(text, multiline)
    if max_length is not None and len(text) > max_length:
        text = text[:max_length].rstrip()
        if text.endswith("\r"):  # never leave half a line break
            text = text[:-1].rstrip()
    return text


def format_decimal(value: object) -> str:
    """A FLOATTYPE number (``ExchangeRate``) written plainly, without an exponent."""
    number = _decimal(value, "number")
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
