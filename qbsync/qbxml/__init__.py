"""The pure qbXML layer: render requests, validate them against Intuit's XSD, parse and classify responses.

No I/O beyond reading the package's own XSDs and templates. The names below are the public API.
"""

from qbsync.qbxml.errors import (
    QbxmlDataError,
    QbxmlError,
    QbxmlParseError,
    QbxmlValidationError,
    QbxmlVersionError,
    QuickBooksTooOldError,
)
from qbsync.qbxml.limits import fit, max_length
from qbsync.qbxml.parse import Response, ResponseSet, parse_response
from qbsync.qbxml.render import build_message, render_request, supported_request_types
from qbsync.qbxml.schema import validate, validate_each
from qbsync.qbxml.status import Explanation, Outcome, classify, explain
from qbsync.qbxml.versions import negotiate_version, parse_host_response

__all__ = [
    "Explanation",
    "Outcome",
    "QbxmlDataError",
    "QbxmlError",
    "QbxmlParseError",
    "QbxmlValidationError",
    "QbxmlVersionError",
    "QuickBooksTooOldError",
    "Response",
    "ResponseSet",
    "build_message",
    "classify",
    "explain",
    "fit",
    "max_length",
    "negotiate_version",
    "parse_host_response",
    "parse_response",
    "render_request",
    "supported_request_types",
    "validate",
    "validate_each",
]
