"""Listening on a port: a taken port is one line naming the fix, never a traceback."""

from __future__ import annotations

import errno
import socket

import click


def port_problem(exc: OSError, host: str, port: int) -> click.ClickException:
    """The one-line message for a port the service cannot listen on."""
    if exc.errno == errno.EADDRINUSE:
        return click.ClickException(
            f"port {port} on {host} is already in use (another `qbsync serve` or `make serve`?): stop it, "
            "or serve on another port with --port")
    return click.ClickException(f"cannot listen on {host} port {port}: {exc.strerror or exc}")


def ensure_port_free(host: str, port: int) -> None:
    """Fail with :func:`port_problem`'s one line if nothing can listen on ``host``:``port`` right now."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress binds
            probe.bind((host, port))
    except OSError as exc:
        raise port_problem(exc, host, port) from exc
