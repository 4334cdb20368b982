"""`qbsync user …`: the people who sign in to the pages, from the server's command line.

Passwords come from a hidden prompt (typed twice) or, for scripts, one line on stdin
(``--password-stdin``); never from the command line, where other users of the machine and the shell
history would see them.
"""

from __future__ import annotations

import click

from qbsync import lockout
from qbsync.service import people
from qbsync.service.cli_secrets import read_password
from qbsync.storage.models import utcnow


def _runtime():  # noqa: ANN202 - the CLI's own opener (migrates, explains a bad key)
    from qbsync.service.cli import _runtime as open_cli_runtime

    return open_cli_runtime()


password_stdin = click.option("--password-stdin", is_flag=True,
                              help="Read the password from the first line of stdin instead of a prompt.")


@click.group("user")
def user() -> None:
    """Admin accounts for the pages: add, passwd, unlock, list, remove."""


@user.command("add")
@click.argument("name")
@password_stdin
def user_add(name: str, password_stdin: bool) -> None:
    """Add an admin account NAME (asks for its password)."""
    runtime = _runtime()
    password = read_password(password_stdin)
    try:
        with runtime.db.transaction() as session:
            people.add_admin(session, name, password)
    except people.PeopleError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"added admin {name.strip()!r}: sign in at the pages' /login")


@user.command("passwd")
@click.argument("name")
@password_stdin
def user_passwd(name: str, password_stdin: bool) -> None:
    """Set a new password for NAME (signs them out everywhere and lifts a lock)."""
    runtime = _runtime()
    password = read_password(password_stdin, "New password")
    try:
        with runtime.db.transaction() as session:
            ended = people.change_password(session, people.find(session, name), password)
    except people.PeopleError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"password changed for {name!r}; {ended} signed-in session{'' if ended == 1 else 's'} ended")


@user.command("unlock")
@click.argument("name")
def user_unlock(name: str) -> None:
    """Let NAME sign in again now after too many failed sign-ins."""
    runtime = _runtime()
    try:
        with runtime.db.transaction() as session:
            people.find(session, name)
            was_locked = people.unlock(session, name)
    except people.PeopleError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{name!r} can sign in again" if was_locked else f"{name!r} was not locked out")


@user.command("list")
def user_list() -> None:
    """List the admin accounts (last sign-in, lock)."""
    runtime = _runtime()
    with runtime.db.transaction() as session:
        everyone = people.everyone(session)
    if not everyone:
        click.echo("no admin accounts yet: add one with `qbsync user add NAME`")
    for person in everyone:
        last = f"{person.last_login_at:%Y-%m-%d %H:%M} UTC" if person.last_login_at else "never"
        locked = f"\tlocked until {person.locked_until:%H:%M} UTC" if person.locked_until else ""
        click.echo(f"{person.username}\tlast sign-in: {last}{locked}")


@user.command("remove")
@click.argument("name")
def user_remove(name: str) -> None:
    """Remove the admin account NAME (not the last one)."""
    runtime = _runtime()
    try:
        with runtime.db.transaction() as session:
            people.remove_admin(session, people.find(session, name))
    except people.PeopleError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"removed {name!r}")


@click.command("unlock")
@click.argument("name")
def connection_unlock(name: str) -> None:
    """Let connection NAME's Web Connector sign in again now after too many failed sign-ins."""
    from qbsync.connections import ConnectionSetupError, get_connection

    runtime = _runtime()
    try:
        with runtime.db.transaction() as session:
            conn = get_connection(session, name)
            locked = lockout.unlock(session, "qbwc", conn.qbwc_username)
    except ConnectionSetupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"lifted {locked} Web Connector lock{'' if locked == 1 else 's'} of {name!r}"
               f" (user {conn.qbwc_username!r}) at {utcnow():%H:%M} UTC")
