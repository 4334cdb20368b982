"""`qbsync push` (backfill from the store) and `qbsync sweep` (look for changes no webhook brought).

The main CLI registers these: ``main.add_command(push)`` and ``main.add_command(sweep)``.
"""

from __future__ import annotations

from typing import Any

import click

from qbsync.config import Config
from qbsync.connections import ConnectionSetupError, get_connection
from qbsync.service.runtime import Runtime, open_runtime
from qbsync.storage.encryption import SecretKeyError
from qbsync.storage.models import Connection
from qbsync.storefronts.http import StorefrontError
from qbsync.storefronts.records import ORDER_STATUSES

TYPES = ("orders", "customers", "products")


def _open(name: str) -> tuple[Runtime, Connection]:
    try:
        runtime = open_runtime(Config.from_env())
        with runtime.db.transaction() as session:
            connection = get_connection(session, name)
            session.expunge(connection)
    except (SecretKeyError, ConnectionSetupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    return runtime, connection


@click.command("push")
@click.argument("name", metavar="CONNECTION")
@click.option("--type", "record_type", type=click.Choice(TYPES), required=True, help="What to bring in.")
@click.option("--from", "date_from", metavar="DATE", help="Created on or after (YYYY-MM-DD, UTC).")
@click.option("--to", "date_to", metavar="DATE", help="Created on or before (YYYY-MM-DD, the whole day).")
@click.option("--status", "statuses", multiple=True, type=click.Choice(ORDER_STATUSES),
              help="Only orders with this status (repeat for several).")
@click.option("--id", "ids", multiple=True, metavar="X",
              help="Only this id, order number, customer e-mail or SKU (repeat for several).")
@click.option("--count-only", is_flag=True, help="Say how many records match, and stop.")
@click.option("--foreground/--background", default=True, show_default=True,
              help="Run here with a progress bar, or hand the push to the background workers.")
def push(name: str, record_type: str, date_from: str | None, date_to: str | None, statuses: tuple[str, ...],
         ids: tuple[str, ...], count_only: bool, foreground: bool) -> None:
    """Bring existing orders, customers or products of CONNECTION's store into the sync queue.

    What is already in QuickBooks or already queued is left alone, so pushing a range twice is harmless.
    """
    from qbsync.storefronts import backfill

    runtime, connection = _open(name)
    filters: dict[str, Any] = {"date_from": date_from, "date_to": date_to, "statuses": list(statuses),
                               "ids": list(ids)}
    try:
        count = backfill.count_matching(runtime, connection, record_type, filters)
        click.echo(f"{count:,} {record_type} match in {connection.store_url}")
        if count_only:
            return
        if count == 0:
            click.echo("nothing to push")
            return
        run = backfill.start_push(runtime, connection, record_type, filters, total=count,
                                  dispatch=not foreground)
    except (StorefrontError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if not foreground:
        click.echo(f"push #{run.id} started in the background; follow it on the Push page")
        return
    last: list[Any] = [None]
    shown = [0]
    with click.progressbar(length=count, label=f"push #{run.id}", show_pos=True) as bar:

        def on_progress(progress: Any) -> None:
            last[0] = progress
            seen = min(progress.read, count)
            if seen > shown[0]:
                bar.update(seen - shown[0])
                shown[0] = seen

        state = backfill.run_push(run.id, on_progress)
    final = last[0]
    if final is not None:
        click.echo(f"read {final.read:,}: {final.queued:,} queued, {final.already_synced:,} already in "
                   f"QuickBooks, {final.skipped:,} skipped")
    if state == "failed":
        raise click.ClickException(f"push #{run.id} failed: {final.error if final else 'see the Push page'}")
    if state != "done":
        click.echo(f"push #{run.id} is {state}: {final.error if final and final.error else ''}".rstrip(": "))
    elif final is not None and final.error:
        click.echo(f"note: {final.error}")


@click.command("sweep")
@click.argument("name", metavar="CONNECTION")
def sweep(name: str) -> None:
    """Ask CONNECTION's store what changed since the last sweep and queue what no webhook brought."""
    from qbsync.storefronts.sweep import sweep_connection

    runtime, connection = _open(name)
    result = sweep_connection(runtime, connection.id)
    for counts in result.counts:
        click.echo(f"{counts.record_type}s changed since {counts.since:%Y-%m-%d %H:%M} UTC: "
                   f"{counts.listed:,} listed, {counts.queued:,} queued, {counts.known:,} already known"
                   + (f", {counts.excluded:,} left out by the sync rules" if counts.excluded else "")
                   + (f", {counts.unreadable:,} unreadable" if counts.unreadable else ""))
        for problem in counts.problems[:5]:
            click.echo(f"  unreadable: {problem}", err=True)
    if result.error:
        raise click.ClickException(f"the sweep stopped: {result.error}")
