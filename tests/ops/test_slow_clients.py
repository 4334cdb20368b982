"""Slow clients (issue 16): 200 sockets trickling a request a byte at a time leave `qbsync serve` healthy.

Before, waitress' default limit of 100 connections let 110 such sockets take /healthz down. The test runs a
real `qbsync serve` on the embedded SQLite default (its own file) and stops by itself: bounded rounds, every
socket closed at the end.
"""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

import httpx

from tests.ops.processes import Spawner

SLOW_SOCKETS = 200
ROUNDS = 8  # one byte per socket per round
ROUND_SECONDS = 1.5
# /healthz answers in milliseconds; before, it did not answer at all while the sockets were open.
HEALTH_TIMEOUT_SECONDS = 5.0


def open_slow_sockets(port: int, count: int) -> list[socket.socket]:
    """``count`` connections, each having sent the start of a request that never ends."""
    sockets = []
    for n in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(f"POST /webhooks/woocommerce/slow-{n} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())
        sockets.append(sock)
    return sockets


def test_200_slow_sockets_do_not_stop_healthz(tmp_path: Path):
    spawner = Spawner(database_url=f"sqlite:///{tmp_path / 'slow.db'}", tmp=tmp_path)
    server = spawner.serve()
    port = int(server.url.rsplit(":", 1)[1])
    sockets: list[socket.socket] = []
    answers: list[float] = []
    try:
        sockets = open_slow_sockets(port, SLOW_SOCKETS)
        for _ in range(ROUNDS):
            for sock in sockets:
                with contextlib.suppress(OSError):  # a socket the server closed stays closed
                    sock.send(b"X")
            started = time.perf_counter()
            try:
                ok = httpx.get(f"{server.url}/healthz", timeout=HEALTH_TIMEOUT_SECONDS).status_code == 200
            except httpx.HTTPError:
                ok = False
            answers.append(time.perf_counter() - started if ok else float("inf"))
            time.sleep(ROUND_SECONDS)
    finally:
        for sock in sockets:
            sock.close()
        spawner.stop_all()
    assert len(sockets) == SLOW_SOCKETS
    assert all(seconds < HEALTH_TIMEOUT_SECONDS for seconds in answers), answers
