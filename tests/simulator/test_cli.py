"""``qbsync simulate``: runs sessions against a server, prints what happened, keeps the company file."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from qbsync.simulator import QuickBooksCompany
from qbsync.simulator.cli import simulate
from tests.simulator.fake_soap_server import Each, FakeQbsync, Served
from tests.simulator.qbxml_messages import customer_add, inventory_add, message

SCRIPT = {
    "serverVersion": "fake",
    "clientVersion": "",
    "authenticate": ["t", ""],
    "closeConnection": "Complete!",
    "getLastError": "No more work",
}


def test_simulate_prints_sessions_and_keeps_the_company(tmp_path: Path) -> None:
    company_file = tmp_path / "books.json"
    fake = FakeQbsync(
        {
            **SCRIPT,
            "sendRequestXML": Each(
                [
                    message(
                        customer_add("Ann"),
                        inventory_add("Widget", on_hand="4", request_id="2"),
                        customer_add("Ann", "3"),
                        on_error="continueOnError",
                    ),
                    "",
                ]
            ),
            "receiveResponseXML": 100,
        }
    )
    with Served(fake):
        result = CliRunner().invoke(
            simulate,
            [
                "--url",
                fake.url,
                "--username",
                "u",
                "--password",
                "p",
                "--company-file",
                str(company_file),
                "--profile",
                "legacy",  # the fake service sends items on the legacy company's accounts
                "--until-idle",
            ],
        )

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"company file: {company_file} (new)"
    assert lines[1] == "session 1: 1 round trip, QuickBooks handled 3 requests; ended normally"
    assert "  added to QuickBooks: Customer +1, ItemInventory +1" in lines
    assert any(line.startswith("  QuickBooks said no to CustomerAdd: 3100 ") for line in lines)
    assert "session 2: ended normally" in lines
    assert "  qbsync said: No more work" in lines
    assert "  stock Widget: 4 on hand, 0 on sales orders" in lines
    assert QuickBooksCompany.load(company_file).find("Customer", "Ann") is not None


def test_simulate_refuses_sessions_and_until_idle_together() -> None:
    result = CliRunner().invoke(
        simulate,
        [
            "--url",
            "http://127.0.0.1:9/",
            "--username",
            "u",
            "--password",
            "p",
            "--sessions",
            "2",
            "--until-idle",
        ],
    )

    assert result.exit_code == 2
    assert "not both" in result.output


def test_simulate_reports_a_broken_company_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")

    result = CliRunner().invoke(
        simulate,
        ["--url", "http://127.0.0.1:9/", "--username", "u", "--password", "p", "--company-file", str(broken)],
    )

    assert result.exit_code == 1
    assert "not a simulated company file" in result.output


def test_simulate_starts_the_company_the_profile_names(tmp_path: Path) -> None:
    company_file = tmp_path / "shop.json"
    fake = FakeQbsync({**SCRIPT, "sendRequestXML": "", "receiveResponseXML": 100})
    args = ["--url", fake.url, "--username", "u", "--password", "p", "--company-file", str(company_file)]
    with Served(fake):
        result = CliRunner().invoke(simulate, [*args, "--sessions", "1", "--profile", "uk"])
        assert result.exit_code == 0, result.output
        saved = QuickBooksCompany.load(company_file)
        assert saved.profile.name == "uk"
        assert saved.find("SalesTaxCode", "S") is not None

        refused = CliRunner().invoke(simulate, [*args, "--sessions", "1", "--profile", "retail"])
    assert refused.exit_code == 1
    assert "made with profile 'uk', not 'retail'" in refused.output


def test_simulate_names_the_profiles_it_knows() -> None:
    result = CliRunner().invoke(
        simulate, ["--url", "http://127.0.0.1:9/", "--username", "u", "--password", "p", "--profile", "x"]
    )
    assert result.exit_code == 2
    assert "'service', 'retail', 'canada', 'uk', 'multicurrency'" in result.output
    assert "'uk-service', 'oregon'" in result.output
