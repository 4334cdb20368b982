"""The errors the qbXML layer raises. All are ValueErrors: they describe bad input, never a crash."""

from __future__ import annotations


class QbxmlError(ValueError):
    """Base class of every error raised by qbsync.qbxml."""


class QbxmlDataError(QbxmlError):
    """A value or field given to ``render_request`` cannot be sent (unknown field, amount too large, ...)."""


class QbxmlVersionError(QbxmlError):
    """A request type, field or version that the session's qbXML version does not have."""


class QuickBooksTooOldError(QbxmlVersionError):
    """QuickBooks speaks an older qbXML than qbsync needs; the message is written for a bookkeeper."""


class QbxmlValidationError(QbxmlError):
    """A qbXML document that the XSD rejects; the message is the schema's own (line, element, reason)."""


class QbxmlParseError(QbxmlError):
    """A response that is not qbXML at all (not XML, a DOCTYPE, no QBXMLMsgsRs)."""
