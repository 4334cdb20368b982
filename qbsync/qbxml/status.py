"""What a qbXML status code means for the sync, and how to explain it to a bookkeeper.

Codes and policy follow the status table in the Web Connector protocol notes (PROTOCOL.md section 7):
0-499 Info, 500-999 Warn, 1000 and up errors, whatever severity QuickBooks attaches (3210 comes back as
"Info" yet the payment was refused).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    """What the sync engine should do with one response."""

    SUCCESS = "success"  # store ids, move on
    NO_MATCH = "no_match"  # code 1: a query found nothing (not an error)
    WARNING = "warning"  # 500-999: the answer is usable; log the warning
    RETRY = "retry"  # transient (locks, not processed, QuickBooks busy): send again later
    STALE_EDIT_SEQUENCE = "stale_edit_sequence"  # 3200: re-read the record, then resend
    NAME_IN_USE = "name_in_use"  # 3100: link to the existing record or pick another name
    MISSING_REFERENCE = "missing_reference"  # 3140: sync the customer/item/account first
    NOT_FOUND = "not_found"  # 3120: the remembered ListID/TxnID is gone
    PERMANENT = "permanent"  # fix the data; resending unchanged will fail again


_TRANSIENT_CODES = frozenset({1000, 1010, 3170, 3175, 3176, 3231})
_SPECIFIC: dict[int, Outcome] = {
    0: Outcome.SUCCESS,
    1: Outcome.NO_MATCH,
    3100: Outcome.NAME_IN_USE,
    3120: Outcome.NOT_FOUND,
    3140: Outcome.MISSING_REFERENCE,
    3200: Outcome.STALE_EDIT_SEQUENCE,
}
# 3180 is "error saving": a lock problem (transient) when QuickBooks says so, otherwise a business rule.
_LOCK_WORDS = re.compile(
    r"modified by another user|could not be locked|acquire the lock|is in use|being (?:used|edited)|\block",
    re.IGNORECASE,
)


# Busy answers a person ends by closing what is open in QuickBooks (a record or list in use).
LOCK_CODES = frozenset({3170, 3175, 3176, 3180})


def busy_fix(code: int) -> str:
    """What a person does about a request QuickBooks kept answering busy (``code`` a RETRY code)."""
    if code in LOCK_CODES:
        return ("close the record or window open in QuickBooks (a customer, item or transaction being "
                "edited, on this or another computer), then retry the job")
    return ("make sure QuickBooks and the company file are open and working (restart QuickBooks if it "
            "keeps happening), then retry the job")


def classify(code: int, severity: str = "", message: str = "") -> Outcome:
    """The ``Outcome`` for a statusCode and statusSeverity (the statusMessage matters for 3180 only)."""
    if code in _SPECIFIC:
        return _SPECIFIC[code]
    if code in _TRANSIENT_CODES:
        return Outcome.RETRY
    if code == 3180:
        return Outcome.RETRY if not message or _LOCK_WORDS.search(message) else Outcome.PERMANENT
    if 0 <= code < 1000:
        if code >= 500 or severity.lower().startswith("warn"):
            return Outcome.WARNING
        return Outcome.PERMANENT if severity.lower() == "error" else Outcome.SUCCESS
    return Outcome.PERMANENT


@dataclass(frozen=True)
class Explanation:
    """A status code in a bookkeeper's words, for the admin log page."""

    title: str
    plain_words: str
    fix: str


_RETRIED = "Nothing to do: qbsync sends it again in the next sync."
_LOCKED = Explanation(
    "Record in use",
    "QuickBooks could not save because the record or list was being edited by someone else at the same time.",
    "qbsync tries again automatically, with longer waits; after busy_retries tries the job waits for you: "
    "close open QuickBooks windows on that record, then retry the job.",
)
_EXPLANATIONS: dict[int, Explanation] = {
    0: Explanation("Done", "QuickBooks accepted the request.", "Nothing to do."),
    1: Explanation(
        "Nothing found",
        "QuickBooks has no record matching what qbsync looked for.",
        "Nothing to fix: qbsync treats it as not there yet (and adds it when it should).",
    ),
    500: Explanation(
        "Some records not found",
        "QuickBooks answered, but some of the records qbsync asked about are not in the company file.",
        "Usually nothing to do: qbsync treats the missing ones as not found.",
    ),
    530: Explanation(
        "Field not supported",
        "This version of QuickBooks ignored a field qbsync sent.",
        "Nothing urgent. Updating QuickBooks Desktop makes the field count.",
    ),
    531: Explanation(
        "Value not supported",
        "This version of QuickBooks does not know one of the values qbsync sent, and ignored it.",
        "Nothing urgent. Updating QuickBooks Desktop makes the value count.",
    ),
    560: Explanation(
        "Outdated field",
        "QuickBooks says a field qbsync sent is deprecated.",
        "Nothing to do now; report it to qbsync support.",
    ),
    1000: Explanation(
        "QuickBooks internal error",
        "QuickBooks had an internal problem with this request.",
        "qbsync tries again later. If it repeats, restart QuickBooks and run File > Utilities > Verify Data.",
    ),
    1010: Explanation(
        "QuickBooks not available",
        "QuickBooks was not available to handle the request.",
        "qbsync tries again later. Make sure QuickBooks and the company file are open.",
    ),
    1060: Explanation(
        "Request number too long",
        "qbsync labelled a request with a number QuickBooks does not accept.",
        "This is a qbsync bug: report it to support. The record is not synced until it is fixed.",
    ),
    3000: Explanation(
        "Invalid record number",
        "qbsync referred to a QuickBooks record by a number QuickBooks does not accept.",
        "qbsync looks the record up again; if it repeats, re-link the record in qbsync's mappings.",
    ),
    3010: Explanation(
        "Invalid yes/no value",
        "QuickBooks did not accept a yes/no value in the request.",
        "Report it to qbsync support with the order or product concerned.",
    ),
    3020: Explanation(
        "Invalid date",
        "QuickBooks did not accept a date in the request (closed period, or not a real date).",
        "Check the order's date and QuickBooks' closing date (Edit > Preferences > Accounting).",
    ),
    3030: Explanation(
        "Invalid date range",
        "QuickBooks did not accept a date range in the request.",
        "Report it to qbsync support.",
    ),
    3040: Explanation(
        "Invalid amount",
        "QuickBooks did not accept an amount (too large, or not allowed here).",
        "Check the amounts of the order or product in the store, correct them, then retry the job.",
    ),
    3070: Explanation(
        "Text too long",
        "A name, address or other text was longer than QuickBooks allows for that field.",
        "Shorten it in the store (or in qbsync's mapping), then retry the job.",
    ),
    3100: Explanation(
        "Name already in use",
        "QuickBooks already has a record with this name. Customers, vendors, employees and other names share "
        "one list of names, so a customer can clash with a vendor of the same name.",
        "Map the store record to the existing QuickBooks record, or choose a naming scheme that keeps names "
        "unique (for example add the e-mail or order number).",
    ),
    3120: Explanation(
        "Record no longer in QuickBooks",
        "The QuickBooks record qbsync had linked to was deleted or merged in QuickBooks.",
        "qbsync drops the old link and finds the record by name or adds it again; check the mapping if not.",
    ),
    3140: Explanation(
        "Missing customer, item or account",
        "The request refers to a customer, item, account, tax code or payment method QuickBooks does not "
        "have; QuickBooks' message names it.",
        "Create it in QuickBooks or let qbsync sync it first, and check the names in the sync settings; "
        "then retry the job (a parked job waits for a person).",
    ),
    3150: Explanation(
        "Required field missing",
        "qbsync left out something QuickBooks requires for this kind of record.",
        "Report it to qbsync support with the order or product concerned.",
    ),
    3170: _LOCKED,
    3175: _LOCKED,
    3176: _LOCKED,
    3180: Explanation(
        "Could not save",
        "QuickBooks could not save the change. Usually someone else was editing the same list at that "
        "moment; otherwise QuickBooks' message gives its reason.",
        "Lock problems are retried automatically (busy_retries times; then the job waits for you to close "
        "the record or window open in QuickBooks and retry it). For any other reason shown, correct the "
        "record in the store or in QuickBooks, then retry the job.",
    ),
    3200: Explanation(
        "Changed in QuickBooks meanwhile",
        "Someone changed this record in QuickBooks after qbsync last read it.",
        "qbsync reads it again and re-applies its change; nothing to do unless it repeats.",
    ),
    3210: Explanation(
        "Value refused",
        "QuickBooks refused a value; its message says which field and why (for example a payment larger "
        "than the amount due).",
        "Correct the order or payment in the store or in QuickBooks, then retry the job.",
    ),
    3231: Explanation(
        "Not processed",
        "QuickBooks skipped this request because an earlier request in the same batch failed.",
        _RETRIED,
    ),
    3250: Explanation(
        "QuickBooks feature turned off",
        "This needs a QuickBooks feature that is turned off or missing from this edition (for example "
        "inventory, sales orders or multiple currencies).",
        "Turn the feature on in QuickBooks (Edit > Preferences), or switch off the matching option in "
        "qbsync.",
    ),
    3260: Explanation(
        "Not allowed",
        "The QuickBooks user qbsync works as is not allowed to do this.",
        "In QuickBooks, Edit > Preferences > Integrated Applications, give qbsync the access it needs.",
    ),
    3261: Explanation(
        "No access to personal data",
        "qbsync is not allowed to read or write personal data (such as card numbers) in this company file.",
        "Allow it under Edit > Preferences > Integrated Applications, or stop syncing that data.",
    ),
    3262: Explanation(
        "Payroll subscription needed",
        "This needs an active QuickBooks payroll subscription.",
        "Activate payroll in QuickBooks, or switch off the matching option in qbsync.",
    ),
}


def explain(code: int) -> Explanation:
    """The bookkeeper's explanation of ``code``; a general one by range for codes without their own."""
    found = _EXPLANATIONS.get(code)
    if found is not None:
        return found
    if 0 <= code < 500:
        return Explanation(
            "Note from QuickBooks", f"QuickBooks added a note (code {code}).", "Nothing to do."
        )
    if 500 <= code < 1000:
        return Explanation(
            f"QuickBooks warning {code}",
            "QuickBooks did the work but warned about something; its message says what.",
            "Usually nothing to do. If the result looks wrong, contact qbsync support with the code.",
        )
    if 2000 <= code < 3000:
        return Explanation(
            f"Not supported by QuickBooks ({code})",
            "This QuickBooks edition or version does not support what qbsync asked for.",
            "Update QuickBooks Desktop, or switch off the matching option in qbsync.",
        )
    return Explanation(
        f"QuickBooks error {code}",
        "QuickBooks refused the request; its message says why.",
        "Correct the record if the message points at it, then retry the job; if it repeats, contact qbsync "
        "support with the code.",
    )
