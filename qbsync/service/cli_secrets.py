"""Secrets for the command line without putting them on it: a hidden prompt, stdin, or the environment.

A password or secret given as a command-line argument is visible to every user of the machine (``ps``)
and kept in the shell's history. Commands take them from, in order: the option's value (kept for old
scripts, with a warning), ``-`` as the value (one line read from stdin), the named environment variable,
or a hidden prompt.
"""

from __future__ import annotations

import os
import sys

import click

# The environment variables `qbsync connection add` reads its secrets from. Inputs of one command, not
# installation settings (so they are not in deploy/env.example).
SECRET_ENVIRONMENT = {
    "webhook_secret": "QBSYNC_WEBHOOK_SECRET",
    "qbwc_password": "QBSYNC_QBWC_PASSWORD",
    "consumer_secret": "QBSYNC_CONSUMER_SECRET",
    "access_token": "QBSYNC_ACCESS_TOKEN",
}


def read_stdin_line(what: str) -> str:
    """One line of stdin (without its line break), or a clear error when there is none."""
    line = sys.stdin.readline()
    if not line:
        raise click.ClickException(f"{what} was to be read from stdin, but stdin has no more lines")
    return line.rstrip("\r\n")


def read_password(from_stdin: bool, what: str = "Password") -> str:
    """A password from one stdin line, or from a hidden prompt asked twice."""
    if from_stdin:
        return read_stdin_line(what)
    return click.prompt(what, hide_input=True, confirmation_prompt=True)


def secret(value: str | None, field: str, label: str, *, required: bool, confirm: bool = False) -> str | None:
    """The secret ``field`` from its option value, stdin (value ``-``), the environment or a prompt."""
    option = "--" + field.replace("_", "-")
    if value == "-":
        return read_stdin_line(option)
    if value:
        click.echo(f"note: {option} on the command line is visible to other users of this machine and kept "
                   f"in your shell history; leave it out to be asked, or set {SECRET_ENVIRONMENT[field]}",
                   err=True)
        return value
    from_env = os.environ.get(SECRET_ENVIRONMENT[field])
    if from_env:
        return from_env
    if not required:
        return None
    return click.prompt(label, hide_input=True, confirmation_prompt=confirm)
