"""``qbsync simulate``: run the simulated Web Connector and QuickBooks against a qbsync server."""

from __future__ import annotations

from pathlib import Path

import click

from qbsync.simulator.company import QuickBooksCompany
from qbsync.simulator.company_host import QBXML_VERSIONS
from qbsync.simulator.profiles import DEFAULT_PROFILE, PROFILES
from qbsync.simulator.webconnector import SessionReport, WebConnector


def describe_session(number: int, report: SessionReport) -> list[str]:
    """The lines printed for one session."""
    lines = [
        f"session {number}: auth={report.auth_result!r} round trips={report.round_trips} "
        f"requests={report.requests_processed} ended by {report.ended_by}",
    ]
    if report.records_created:
        created = ", ".join(f"{kind} +{n}" for kind, n in sorted(report.records_created.items()))
        lines.append(f"  created: {created}")
    for request_type, code, message in report.errors:
        lines.append(f"  {request_type}: {code} {message}")
    for hresult, message in report.hresults:
        lines.append(f"  rejected by QuickBooks: {hresult} {message}")
    if report.fault:
        lines.append(f"  server problem: {report.fault}")
    if report.last_error:
        lines.append(f"  getLastError: {report.last_error}")
    if report.close_text is not None:
        lines.append(f"  closeConnection: {report.close_text}")
    return lines


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
    help="Keep the simulated QuickBooks company in this JSON file (created when missing).",
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
    try:
        if company_file is not None:
            company = QuickBooksCompany.open(
                company_file, qbxml_version=qbxml_version, latency_seconds=latency, profile=profile
            )
        else:
            company = QuickBooksCompany(qbxml_version=qbxml_version, latency_seconds=latency, profile=profile)
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
