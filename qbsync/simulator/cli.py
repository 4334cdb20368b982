"""``qbsync simulate``: run the simulated Web Connector and QuickBooks against a qbsync server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from qbsync.config import default_data_dir
from qbsync.simulator.company import QuickBooksCompany
from qbsync.simulator.company_host import QBXML_VERSIONS
from qbsync.simulator.profiles import DEFAULT_PROFILE, PROFILES
from qbsync.simulator.webconnector import SessionReport, WebConnector

# qbXML statuses that are an ordinary answer to a look-up, not a problem: 1 "no match", 500 "not fully
# completed" (a name or id asked for is not in the company). Source: Intuit's qbXML status code list.
LOOKUP_MISSES = frozenset({1, 500})
# "There is an invalid reference to QuickBooks <kind> ..." (Intuit's status code list).
STALE_REFERENCE = 3140
_ENDINGS = {
    "closeConnection": "ended normally",
    "auth:none": "nothing to do",
    "auth:nvu": "the user name or password was refused",
    "auth:busy": "another Web Connector was syncing this connection",
    "postponed": "qbsync asked the Web Connector to come back later",
    "clientVersion": "qbsync refused this Web Connector version",
    "connectionError": "QuickBooks could not be opened",
    "crash": "QuickBooks stopped after processing a request (simulated crash)",
    "soap-fault": "the server answered with a SOAP Fault",
    "protocol-error": "the server's answer could not be read",
    "round-trip-limit": "stopped after the most round trips allowed",
}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _split_statuses(report: SessionReport) -> tuple[int, list[tuple[str, int, str]]]:
    """(look-ups that found nothing, the real problems) among the session's warnings and errors."""
    misses = 0
    problems = []
    for request_type, code, message in report.errors:
        if request_type.endswith("Query") and code in LOOKUP_MISSES:
            misses += 1
        else:
            problems.append((request_type, code, message))
    misses += sum(1 for t, code, _m in report.statuses if code == 1 and t.endswith("Query"))
    return misses, problems


def describe_session(number: int, report: SessionReport) -> list[str]:
    """The lines printed for one session, in plain words."""
    ending = _ENDINGS.get(report.ended_by, report.ended_by)
    if report.round_trips:
        head = (f"session {number}: {_plural(report.round_trips, 'round trip')}, QuickBooks handled "
                f"{_plural(report.requests_processed, 'request')}; {ending}")
    else:
        head = f"session {number}: {ending}"
    lines = [head]
    if report.records_created:
        created = ", ".join(f"{kind} +{n}" for kind, n in sorted(report.records_created.items()))
        lines.append(f"  added to QuickBooks: {created}")
    misses, problems = _split_statuses(report)
    if misses:
        lines.append(f"  look-ups that found nothing (ordinary: qbsync checks before adding): {misses}")
    stale = [p for p in problems if p[1] == STALE_REFERENCE]
    if stale:
        lines.append(f"  {_plural(len(stale), 'request')} named records this company does not have "
                     "(3140), as after switching to another company file: qbsync looks them up, adds them "
                     "again if missing and sends the request again")
    for request_type, code, message in problems:
        if code != STALE_REFERENCE:
            lines.append(f"  QuickBooks said no to {request_type}: {code} {message}")
    for hresult, message in report.hresults:
        lines.append(f"  rejected by QuickBooks: {hresult} {message}")
    if report.fault:
        lines.append(f"  server problem: {report.fault}")
    said: list[str] = []
    for text in (report.last_error, report.close_text):
        if text and text.strip() not in ("OK", "NoOp") and text not in said:
            said.append(text)
    lines.extend(f"  qbsync said: {text.removeprefix('qbsync: ')}" for text in said)
    return lines


def new_company(profile: str | None = None, **options: Any) -> QuickBooksCompany:
    """A new simulated company, seeded as QuickBooks' setup interview leaves ``profile`` (None: the
    default profile). ValueError names the choices when the profile is unknown."""
    if profile is not None and profile not in PROFILES:
        raise ValueError(f"unknown company profile {profile!r}; choose one of {', '.join(PROFILES)}")
    return QuickBooksCompany(profile=profile, **options)


def default_company_file(username: str) -> Path:
    """Where ``qbsync simulate`` keeps the company of a Web Connector user between runs."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in username) or "company"
    return default_data_dir() / "simulated-quickbooks" / f"{safe}.json"


def describe_company(company: QuickBooksCompany) -> list[str]:
    """A summary of what the company holds."""
    counts = company.counts()
    lines = ["company: " + ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()))]
    for item in company.items():
        if item["kind"] == "ItemInventory":
            lines.append(
                f"  stock {item['FullName']}: {item['QuantityOnHand']} on hand, "
                f"{item['QuantityOnSalesOrder']} on sales orders"
            )
    return lines


@click.command("simulate")
@click.option("--url", required=True, help="The qbsync Web Connector endpoint (the .qwc AppURL).")
@click.option("--username", required=True, help="The Web Connector user name of the connection.")
@click.option("--password", required=True, prompt=True, hide_input=True, help="Its Web Connector password.")
@click.option(
    "--company-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Keep the simulated QuickBooks company in this JSON file (created when missing). Default: one "
    "file per Web Connector user in the data folder, reused by every run.",
)
@click.option(
    "--in-memory",
    is_flag=True,
    help="Use a new company that is forgotten after this run (qbsync will not find what it added before).",
)
@click.option("--sessions", type=click.IntRange(min=1), default=None, help="Run this many sessions.")
@click.option("--until-idle", is_flag=True, help="Run sessions until one has nothing to do.")
@click.option(
    "--interval",
    "interval",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds to wait between sessions (Auto-Run interval).",
)
@click.option(
    "--latency",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds QuickBooks spends on each request.",
)
@click.option(
    "--qbxml-version",
    type=click.Choice(QBXML_VERSIONS),
    default="13.0",
    show_default=True,
    help="Newest qbXML version the simulated QuickBooks supports.",
)
@click.option(
    "--profile",
    type=click.Choice(list(PROFILES)),
    default=None,
    help="How QuickBooks' setup left the company: "
    + "; ".join(f"{p.name}: {p.summary}" for p in PROFILES.values())
    + f" (default {DEFAULT_PROFILE}; an existing --company-file keeps its own).",
)
def simulate(
    url: str,
    username: str,
    password: str,
    company_file: Path | None,
    in_memory: bool,
    sessions: int | None,
    until_idle: bool,
    interval: float,
    latency: float,
    qbxml_version: str,
    profile: str | None,
) -> None:
    """Play the QuickBooks Web Connector and a QuickBooks company against a running qbsync."""
    if sessions is not None and until_idle:
        raise click.UsageError("give --sessions or --until-idle, not both")
    if in_memory and company_file is not None:
        raise click.UsageError("give --company-file or --in-memory, not both")
    if not in_memory and company_file is None:
        company_file = default_company_file(username)
    options: dict[str, Any] = {"qbxml_version": qbxml_version, "latency_seconds": latency}
    try:
        if company_file is not None and company_file.exists():
            company = QuickBooksCompany.open(company_file, profile=profile, **options)
            click.echo(f"company file: {company_file} (reused; --in-memory starts from an empty company)")
        else:
            company = new_company(profile, **options)
            if company_file is not None:
                company_file.parent.mkdir(parents=True, exist_ok=True)
                company.path = company_file
                click.echo(f"company file: {company_file} (new)")
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    with WebConnector(url, username, password, company) as connector:
        reports = connector.run(sessions=sessions, until_idle=until_idle, interval_seconds=interval)
    for number, report in enumerate(reports, start=1):
        for line in describe_session(number, report):
            click.echo(line)
    for line in describe_company(company):
        click.echo(line)
    if company_file is not None:
        company.save(company_file)
        click.echo(f"saved to {company_file}")
