"""One hostile request against `qbsync serve` (embedded, SQLite): how long it takes to be answered, and how
long /healthz takes while it is handled (issue 16).

Each case gets a fresh `qbsync serve`, so a case that hangs the server cannot spoil the next. /healthz is
asked every 0.1 s from another thread while the hostile request runs. A request not answered within
``LIMIT_SECONDS`` is counted as "no answer". ``QBSYNC_BENCH_SOURCE=<checkout>`` runs the server from another
checkout of qbsync (e.g. the commit before the fix), for the before/after figures in the README.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from bench import machine, results
from bench.stack import QBWC_PASSWORD, Stack
from qbsync.queue.jobs import enqueue_qbxml
from qbsync.simulator.webconnector import INTUIT_NS, envelope

NAME = "denial_of_service"
LIMIT_SECONDS = 90.0
HEALTH_EVERY_SECONDS = 0.1
SLOW_SOCKETS = 200
SLOW_SECONDS = 15.0
GOALS = {"hostile_answer_seconds": "< 1 s", "healthz_during_ms": "< 100 ms (max)"}


def _soap(url: str, body: bytes, method: str) -> httpx.Response:
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{INTUIT_NS}{method}"'}
    return httpx.post(f"{url}/qbwc", content=body, timeout=LIMIT_SECONDS, headers=headers)


def many_attributes(url: str, _ticket: str) -> httpx.Response:
    attrs = "".join(f' a{i}="x"' for i in range(100_000))
    body = ('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
            f'<authenticate xmlns="http://developer.intuit.com/"{attrs}><strUserName>shop-qbwc</strUserName>'
            "<strPassword>x</strPassword></authenticate></soap:Body></soap:Envelope>").encode()
    return _soap(url, body, "authenticate")


def long_path(url: str, _ticket: str) -> httpx.Response:
    return httpx.get(f"{url}/{'a' * 20_000}", timeout=LIMIT_SECONDS)


def long_element_name(url: str, _ticket: str) -> httpx.Response:
    name = "n" * 20_000
    body = (f'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><{name}>'
            f"</{name}x></soap:Body></soap:Envelope>").encode()
    return _soap(url, body, "authenticate")


def _error_message(size: int) -> Callable[[str, str], httpx.Response]:
    def send(url: str, ticket: str) -> httpx.Response:
        body = envelope("receiveResponseXML", [("ticket", ticket), ("response", ""),
                                               ("hresult", "0x80040401"), ("message", "m" * size)])
        return _soap(url, body, "receiveResponseXML")
    return send


def bad_status_code(url: str, ticket: str) -> httpx.Response:
    """A qbXML answer whose statusCode is not a number (it took 150 s of CPU before parse.py checked it
    as an int before the 32-bit range test)."""
    answer = ('<?xml version="1.0"?><QBXML><QBXMLMsgsRs><CustomerAddRs statusCode="oops"/>'
              "</QBXMLMsgsRs></QBXML>")
    body = envelope("receiveResponseXML", [("ticket", ticket), ("response", answer),
                                           ("hresult", ""), ("message", "")])
    return _soap(url, body, "receiveResponseXML")


CASES: list[tuple[str, str, Callable[[str, str], httpx.Response]]] = [
    ("100,000 attributes on one element (1.1 MB, no sign-in)", "attributes", many_attributes),
    ("20,000-character URL path", "path", long_path),
    ("SOAP body with a 20,000-character element name", "element-name", long_element_name),
    ("receiveResponseXML with a 5 MB error message (live session)", "message-5mb", _error_message(5_000_000)),
    ("receiveResponseXML with a 90,000-character error message (live session)", "message-90k",
     _error_message(90_000)),
    ("receiveResponseXML whose qbXML statusCode is not a number (live session)", "bad-status-code",
     bad_status_code),
]


class HealthPoller:
    """Asks /healthz every 0.1 s on its own thread; keeps each answer's latency (None: no answer)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.latencies: list[float | None] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HealthPoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=LIMIT_SECONDS + 5)

    def _run(self) -> None:
        with httpx.Client(timeout=LIMIT_SECONDS) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    ok = client.get(f"{self.url}/healthz").status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.latencies.append((time.perf_counter() - started) * 1000 if ok else None)
                self._stop.wait(HEALTH_EVERY_SECONDS)

    def summary(self) -> dict[str, Any]:
        answered = [ms for ms in self.latencies if ms is not None]
        unanswered = len(self.latencies) - len(answered)
        return {"healthz_asked": len(self.latencies), "healthz_unanswered": unanswered,
                "healthz_p50_ms": round(statistics.median(answered), 1) if answered else None,
                "healthz_max_ms": round(max(answered), 1) if answered else None}


def _ticket(stack: Stack, url: str) -> str:
    """A live Web Connector session (one job queued so authenticate opens one)."""
    with stack.runtime.db.transaction() as session:
        conn_id = session.execute(text("select id from connections where name = 'shop'")).scalar_one()
        enqueue_qbxml(session, conn_id, "<CustomerQueryRq><FullName>A</FullName></CustomerQueryRq>")
    body = envelope("authenticate", [("strUserName", "shop-qbwc"), ("strPassword", QBWC_PASSWORD)])
    answer = _soap(url, body, "authenticate").text
    return answer.split("<tns:string>", 2)[1].split("<", 1)[0]


def _one(label: str, key: str, send: Callable[[str, str], httpx.Response]) -> dict[str, Any]:
    with Stack.sqlite() as stack:
        stack.add_connection("shop")
        server = _serve(stack)
        ticket = _ticket(stack, server.url)
        started = time.perf_counter()
        with HealthPoller(server.url) as poller:
            try:
                response = send(server.url, ticket)
                status: Any = response.status_code
            except httpx.HTTPError as exc:
                status = f"no answer ({type(exc).__name__})"
            seconds = time.perf_counter() - started
            time.sleep(0.5)  # a few polls after the answer too
        row = {"case": label, "key": key, "status": status, "answer_seconds": round(seconds, 3),
               **poller.summary()}
    print(f"  {label}: {row['status']} in {row['answer_seconds']} s; "
          f"/healthz p50 {row['healthz_p50_ms']} ms, max {row['healthz_max_ms']} ms, "
          f"{row['healthz_unanswered']} of {row['healthz_asked']} unanswered")
    return row


def _slow_clients() -> dict[str, Any]:
    with Stack.sqlite() as stack:
        server = _serve(stack)
        port = int(server.url.rsplit(":", 1)[1])
        sockets: list[socket.socket] = []
        with HealthPoller(server.url) as poller:
            try:
                for n in range(SLOW_SOCKETS):
                    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                    sock.sendall(f"POST /webhooks/woocommerce/s{n} HTTP/1.1\r\nHost: x\r\n".encode())
                    sockets.append(sock)
                deadline = time.monotonic() + SLOW_SECONDS
                while time.monotonic() < deadline:
                    for sock in sockets:
                        with contextlib.suppress(OSError):  # one the server closed stays closed
                            sock.send(b"X")
                    time.sleep(2)
            finally:
                for sock in sockets:
                    sock.close()
    row = {"case": f"{SLOW_SOCKETS} slow sockets, one byte each every 2 s for {SLOW_SECONDS:.0f} s",
           "key": "slow-sockets", "status": "-", "answer_seconds": None, **poller.summary()}
    print(f"  {row['case']}: /healthz p50 {row['healthz_p50_ms']} ms, max {row['healthz_max_ms']} ms, "
          f"{row['healthz_unanswered']} of {row['healthz_asked']} unanswered")
    return row


def _serve(stack: Stack):
    source = os.environ.get("QBSYNC_BENCH_SOURCE")
    if source:  # run the server from another checkout (same virtualenv)
        stack.source = Path(source)
    return stack.serve()


def run() -> dict[str, Any]:
    runs = [_one(label, key, send) for label, key, send in CASES]
    runs.append(_slow_clients())
    source = os.environ.get("QBSYNC_BENCH_SOURCE")
    info = machine.describe("SQLite")
    notes = [f"each case on a fresh `qbsync serve` (waitress, 8 threads, SQLite); /healthz asked every "
             f"{HEALTH_EVERY_SECONDS} s meanwhile; a request unanswered after {LIMIT_SECONDS:.0f} s is "
             "'no answer'",
             f"server code: {source or 'this checkout'}"]
    path = results.save(NAME if not source else f"{NAME}_before", info, runs, GOALS, notes)
    print(results.table(runs, ["key", "status", "answer_seconds", "healthz_p50_ms", "healthz_max_ms",
                               "healthz_unanswered", "healthz_asked"]))
    print(f"written {path}")
    return {"runs": runs}
