"""`qbsync push` and `qbsync sweep` against the storefront double."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from qbsync.service.cli import main
from qbsync.simulator.storefront import make_orders
from qbsync.storefronts.cli import push, sweep
from tests.conftest import TEST_SECRET_KEY


@pytest.fixture
def env(tmp_path):
    return {"QBSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}", "QBSYNC_DATA_DIR": str(tmp_path),
            "QBSYNC_SECRET_KEY": TEST_SECRET_KEY, "QBSYNC_REDIS_URL": ""}


@pytest.fixture
def shop(double, env):
    runner = CliRunner()
    added = runner.invoke(main, [
        "connection", "add", "shop", "--platform", "woocommerce", "--store-url", double.base_url,
        "--webhook-secret", "whsec-1", "--qbwc-username", "shop-qbwc", "--qbwc-password", "correct horse",
        "--consumer-key", double.consumer_key, "--consumer-secret", double.consumer_secret], env=env)
    assert added.exit_code == 0, added.output
    return "shop"


def test_push_counts_then_runs_in_the_foreground_and_prints_the_outcome(double, env, shop, tmp_path):
    orders = make_orders(150, "woocommerce")
    double.add_orders(orders, "woocommerce")
    completed = sum(1 for o in orders if o["status"] == "completed")
    runner = CliRunner()

    counted = runner.invoke(push, [shop, "--type", "orders", "--status", "completed", "--count-only"],
                            env=env)
    assert counted.exit_code == 0, counted.output
    assert counted.output.strip() == f"{completed} orders match in {double.base_url}"

    pushed = runner.invoke(push, [shop, "--type", "orders", "--status", "completed"], env=env)
    assert pushed.exit_code == 0, pushed.output
    assert f"read {completed}: {completed} queued, 0 already in QuickBooks, 0 skipped" in pushed.output
    raw = sqlite3.connect(tmp_path / "cli.sqlite3")
    runs = raw.execute("select state, read, queued from push_runs").fetchall()
    assert runs == [("done", completed, completed)]
    assert raw.execute("select count(*) from queue_jobs where kind = 'order'").fetchone() == (completed,)

    again = runner.invoke(push, [shop, "--type", "orders", "--status", "completed"], env=env)
    assert f"read {completed}: 0 queued, 0 already in QuickBooks, {completed} skipped" in again.output


def test_push_and_sweep_explain_what_is_wrong(double, env, shop):
    runner = CliRunner()
    unknown = runner.invoke(push, ["nope", "--type", "orders"], env=env)
    assert unknown.exit_code != 0 and "no connection named 'nope'" in unknown.output
    bad_date = runner.invoke(push, [shop, "--type", "orders", "--from", "yesterday"], env=env)
    assert bad_date.exit_code != 0 and "YYYY-MM-DD" in bad_date.output

    swept = runner.invoke(sweep, [shop], env=env)
    assert swept.exit_code == 0, swept.output
    assert "orders changed since" in swept.output and "0 listed, 0 queued" in swept.output
    double.consumer_secret = "rotated"
    refused = runner.invoke(sweep, [shop], env=env)
    assert refused.exit_code != 0 and "refused the consumer key/secret" in refused.output
