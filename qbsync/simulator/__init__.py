"""Test doubles that make the whole sync runnable without Windows: a QuickBooks company in memory
(:class:`QuickBooksCompany`), a Web Connector that drives a served qbsync over HTTP (:class:`WebConnector`),
and a storefront REST double (``qbsync.simulator.storefront``)."""

from qbsync.simulator.company import (
    LoggedExchange,
    QbxmlRequestRejected,
    QuickBooksCompany,
    SimulatedCrash,
)
from qbsync.simulator.webconnector import Call, SessionReport, WebConnector

__all__ = [
    "Call",
    "LoggedExchange",
    "QbxmlRequestRejected",
    "QuickBooksCompany",
    "SessionReport",
    "SimulatedCrash",
    "WebConnector",
]
