"""The `qbsync` command line: connections, .qwc files, and bringing an empty database up to date."""

from __future__ import annotations

import re
import sqlite3

import pytest
from click.testing import CliRunner
from lxml import etree

from qbsync.service.cli import main
from tests.conftest import TEST_SECRET_KEY


@pytest.fixture
def fresh_env(tmp_path):
    """An environment pointing at a database file that does not exist yet."""
    return {
        "QBSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
        "QBSYNC_DATA_DIR": str(tmp_path / "data"),
        "QBSYNC_SECRET_KEY": TEST_SECRET_KEY,
        "QBSYNC_REDIS_URL": "",
    }


def _add(runner, env, name="shop", user="shop-qbwc", password="correct horse battery"):
    return runner.invoke(main, [
        "connection", "add", name, "--platform", "woocommerce", "--store-url", "https://shop.example.com",
        "--webhook-secret", "whsec-123", "--qbwc-username", user, "--qbwc-password", password,
        "--consumer-key", "ck_abc", "--consumer-secret", "cs_supersecret",
    ], env=env)


def test_connection_add_migrates_an_empty_database_and_stores_secrets_encrypted(fresh_env, tmp_path):
    runner = CliRunner()
    result = _add(runner, fresh_env)
    assert result.exit_code == 0, result.output
    assert "added connection 'shop'" in result.output
    raw = sqlite3.connect(tmp_path / "fresh.sqlite3")
    tables = {r[0] for r in raw.execute("select name from sqlite_master where type='table'")}
    assert {"connections", "queue_jobs", "alembic_version", "webhook_deliveries"} <= tables
    secret, creds, pw_hash = raw.execute(
        "select webhook_secret, api_credentials, qbwc_password_hash from connections").fetchone()
    assert "whsec-123" not in secret and "cs_supersecret" not in creds
    assert pw_hash.startswith("$argon2id$") and "correct horse" not in pw_hash

    listed = runner.invoke(main, ["connection", "list"], env=fresh_env)
    assert listed.exit_code == 0 and "shop\twoocommerce\thttps://shop.example.com" in listed.output
    assert "cs_supersecret" not in listed.output


def test_duplicate_names_and_users_are_refused_with_a_reason(fresh_env):
    runner = CliRunner()
    assert _add(runner, fresh_env).exit_code == 0
    again = _add(runner, fresh_env)
    assert again.exit_code != 0 and "already exists" in again.output
    same_user = _add(runner, fresh_env, name="other")
    assert same_user.exit_code != 0 and "already used by another connection" in same_user.output
    short = _add(runner, fresh_env, name="third", user="u3", password="short")
    assert short.exit_code != 0 and "at least 8 characters" in short.output


def test_qwc_is_stable_and_warns_about_plain_http(fresh_env):
    runner = CliRunner()
    assert _add(runner, fresh_env).exit_code == 0
    first = runner.invoke(main, ["qwc", "shop", "--url", "https://sync.example.com/qbwc"], env=fresh_env)
    second = runner.invoke(main, ["qwc", "shop", "--url", "https://sync.example.com/qbwc"], env=fresh_env)
    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout
    doc = etree.fromstring(first.stdout.encode())
    fields = {el.tag: (el.text or "") for el in doc}
    for tag in ("AppName", "AppID", "AppURL", "AppDescription", "AppSupport", "UserName", "OwnerID", "FileID",
                "QBType", "Scheduler", "IsReadOnly", "UnattendedModePref"):
        assert tag in fields, tag
    assert fields["AppURL"] == "https://sync.example.com/qbwc"
    assert fields["AppSupport"].startswith("https://sync.example.com/")
    assert fields["UserName"] == "shop-qbwc"
    assert fields["IsReadOnly"] == "false" and fields["QBType"] == "QBFS"
    assert fields["OwnerID"].startswith("{") and fields["FileID"] != fields["OwnerID"]

    plain = runner.invoke(main, ["qwc", "shop", "--url", "http://sync.example.com/qbwc"], env=fresh_env)
    assert "refuses that for anything but localhost" in plain.stderr
    local = runner.invoke(main, ["qwc", "shop", "--url", "http://localhost:8000/qbwc"], env=fresh_env)
    assert local.stderr == ""

    missing = runner.invoke(main, ["qwc", "nope", "--url", "https://x/qbwc"], env=fresh_env)
    assert missing.exit_code != 0 and "no connection named 'nope' (connections: shop)" in missing.output


def test_set_password_changes_what_authenticates(fresh_env):
    from qbsync.connections import get_connection
    from qbsync.passwords import verify_password
    from qbsync.service.runtime import current

    runner = CliRunner()
    assert _add(runner, fresh_env).exit_code == 0
    result = runner.invoke(main, ["connection", "set-password", "shop", "--password", "a-new-password-1"],
                           env=fresh_env)
    assert result.exit_code == 0, result.output
    with current().db.transaction() as s:
        conn = get_connection(s, "shop")
        assert verify_password(conn.qbwc_password_hash, "a-new-password-1")
        assert not verify_password(conn.qbwc_password_hash, "correct horse battery")


def test_a_bad_secret_key_is_a_clear_cli_error(fresh_env):
    env = dict(fresh_env, QBSYNC_SECRET_KEY="not-a-key")
    result = CliRunner().invoke(main, ["connection", "list"], env=env)
    assert result.exit_code != 0
    assert "QBSYNC_SECRET_KEY is not a valid key" in result.output


def test_worker_without_redis_explains_why_it_is_not_needed(fresh_env):
    result = CliRunner().invoke(main, ["worker", "--burst"], env=fresh_env)
    assert result.exit_code != 0 and "QBSYNC_REDIS_URL is not set" in result.output


def test_serve_on_a_taken_port_says_so_in_one_line(tmp_path):
    import os
    import socket
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("QBSYNC_")}
    env["QBSYNC_DATA_DIR"] = str(tmp_path / "data")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "qbsync.service.cli", "serve", "--port", str(port)],
                              cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"Error: port {port} on 127.0.0.1 is already in use (another `qbsync serve` or `make serve`?): "
        "stop it, or serve on another port with --port"]
    assert "Traceback" not in done.stdout + done.stderr


def test_serve_prints_a_one_time_first_run_link_while_no_admin_exists(fresh_env, monkeypatch):
    import waitress

    from qbsync.service import scheduler
    from qbsync.service.app import create_app
    from qbsync.service.runtime import current

    monkeypatch.setattr(waitress, "serve", lambda *args, **kwargs: None)
    monkeypatch.setattr(scheduler, "start_thread", lambda runtime: None)
    result = CliRunner().invoke(main, ["serve", "--port", "8123"], env=fresh_env)
    assert result.exit_code == 0, result.output
    match = re.search(r"first run: open http://127\.0\.0\.1:8123(/setup\?token=\S+) to create the admin",
                      result.output)
    assert match, result.output
    browser = create_app(runtime=current()).test_client()
    assert browser.get(match.group(1)).headers["Location"] == "/setup"
    page = browser.get("/setup")
    assert page.status_code == 200 and "Create account and connection" in page.get_data(as_text=True)

    # With an admin (made on the command line), no link is printed and the page is closed.
    added = CliRunner().invoke(main, ["user", "add", "owner", "--password-stdin"], env=fresh_env,
                               input="owner password 1\n")
    assert added.exit_code == 0, added.output
    again = CliRunner().invoke(main, ["serve", "--port", "8123"], env=fresh_env)
    assert "first run" not in again.output
    assert browser.get("/setup").headers["Location"] == "/login"


def _stored_secrets(name: str = "shop") -> tuple[str, dict, str]:
    from qbsync.connections import get_connection
    from qbsync.service.runtime import current

    with current().db.transaction() as s:
        conn = get_connection(s, name)
        return conn.webhook_secret, dict(conn.api_credentials), conn.qbwc_password_hash


NO_SECRETS = ["connection", "add", "shop", "--platform", "woocommerce", "--store-url",
              "https://shop.example.com", "--qbwc-username", "shop-qbwc"]


def test_connection_add_asks_for_its_secrets_instead_of_taking_them_from_the_command_line(fresh_env):
    from qbsync.passwords import verify_password

    result = CliRunner().invoke(main, [*NO_SECRETS, "--consumer-key", "ck_abc"], env=fresh_env,
                                input="whsec-typed\nqbwc password 1\nqbwc password 1\ncs_typed\n")
    assert result.exit_code == 0, result.output
    assert "Webhook secret:" in result.output and "Web Connector password:" in result.output
    assert "whsec-typed" not in result.output and "qbwc password 1" not in result.output  # hidden input
    webhook_secret, creds, pw_hash = _stored_secrets()
    assert webhook_secret == "whsec-typed"
    assert creds == {"consumer_key": "ck_abc", "consumer_secret": "cs_typed"}
    assert verify_password(pw_hash, "qbwc password 1")


def test_connection_add_reads_secrets_from_stdin_or_the_environment(fresh_env):
    from qbsync.passwords import verify_password

    piped = CliRunner().invoke(main, [*NO_SECRETS, "--webhook-secret", "-", "--qbwc-password", "-"],
                               env=fresh_env, input="whsec-piped\nqbwc piped 123\n")
    assert piped.exit_code == 0, piped.output
    webhook_secret, _creds, pw_hash = _stored_secrets()
    assert webhook_secret == "whsec-piped" and verify_password(pw_hash, "qbwc piped 123")

    env = dict(fresh_env, QBSYNC_WEBHOOK_SECRET="whsec-env", QBSYNC_QBWC_PASSWORD="qbwc env 1234",
               QBSYNC_ACCESS_TOKEN="shpat_env")
    from_env = CliRunner().invoke(main, ["connection", "add", "shopify-shop", "--platform", "shopify",
                                         "--store-url", "https://x.myshopify.com", "--qbwc-username", "sq"],
                                  env=env, input="")
    assert from_env.exit_code == 0, from_env.output
    webhook_secret, creds, pw_hash = _stored_secrets("shopify-shop")
    assert webhook_secret == "whsec-env" and creds == {"access_token": "shpat_env"}
    assert verify_password(pw_hash, "qbwc env 1234")


def test_secrets_on_the_command_line_still_work_with_a_warning(fresh_env):
    result = _add(CliRunner(), fresh_env)
    assert result.exit_code == 0
    assert "--webhook-secret on the command line is visible to other users" in result.stderr
    assert "set QBSYNC_QBWC_PASSWORD" in result.stderr


def test_a_shopify_shop_is_added_by_its_myshopify_address_and_a_wrong_one_can_be_corrected(fresh_env):
    from qbsync.connections import get_connection
    from qbsync.service.runtime import current

    runner = CliRunner()
    env = dict(fresh_env, QBSYNC_WEBHOOK_SECRET="whsec-env", QBSYNC_QBWC_PASSWORD="qbwc env 1234")
    add = ["connection", "add", "shop", "--platform", "shopify", "--qbwc-username", "sq", "--store-url"]
    custom = runner.invoke(main, [*add, "https://www.example-shop.com"], env=env)
    assert custom.exit_code != 0 and "enter https://<shop>.myshopify.com" in custom.output
    assert "Settings > Domains" in custom.output
    assert runner.invoke(main, [*add, "https://example-shop.myshopify.com"], env=env).exit_code == 0

    refused = runner.invoke(main, ["connection", "set-store-url", "shop", "https://www.example-shop.com",
                                   "--yes"], env=env)
    assert refused.exit_code != 0 and "myshopify.com address" in refused.output
    declined = runner.invoke(main, ["connection", "set-store-url", "shop", "https://example-shop-2.myshopify.com"],
                             env=env, input="n\n")
    assert declined.exit_code != 0 and "nothing was changed" in declined.output
    assert "another store's orders would be taken for this one's" in declined.output
    with current().db.transaction() as s:
        assert get_connection(s, "shop").store_url == "https://example-shop.myshopify.com"
    moved = runner.invoke(main, ["connection", "set-store-url", "shop", "https://example-shop-2.myshopify.com/"],
                          env=env, input="y\n")
    assert moved.exit_code == 0, moved.output
    with current().db.transaction() as s:
        assert get_connection(s, "shop").store_url == "https://example-shop-2.myshopify.com"


def _shop_on_a_file_with_one_link(fresh_env) -> CliRunner:
    """Connection "shop", bound to C:\\Books\\Shop.QBW, with one link to an invoice there."""
    from qbsync.connections import get_connection
    from qbsync.service.runtime import current
    from qbsync.storage.models import IdMapping

    runner = CliRunner()
    assert _add(runner, fresh_env).exit_code == 0
    with current().db.transaction() as s:
        conn = get_connection(s, "shop")
        conn.company_file = r"C:\Books\Shop.QBW"
        s.add(IdMapping(connection_id=conn.id, record_type="order", storefront_id="1001", qb_type="Invoice",
                        qb_id="1A-1", origin="created"))
    return runner


def test_switch_file_same_file_keeps_the_links_and_asks_first(fresh_env):
    from qbsync.connections import get_connection
    from qbsync.service.runtime import current
    from qbsync.storage.models import IdMapping

    runner = _shop_on_a_file_with_one_link(fresh_env)

    nothing = runner.invoke(main, ["connection", "switch-file", "shop", "--same-file", "--yes"],
                            env=fresh_env)
    assert nothing.exit_code != 0 and "give the path the Web Connector reports (--to)" in nothing.output
    declined = runner.invoke(main, ["connection", "switch-file", "shop", "--same-file", "--to",
                                    r"\\NAS\Books\Shop.QBW"], env=fresh_env, input="n\n")
    assert declined.exit_code != 0 and "nothing was changed" in declined.output
    assert "a copy of the file is not the same file" in declined.output
    same = runner.invoke(main, ["connection", "switch-file", "shop", "--same-file", "--to",
                                r"\\NAS\Books\Shop.QBW"], env=fresh_env, input="y\n")
    assert same.exit_code == 0, same.output
    assert "links kept" in same.output
    with current().db.transaction() as s:
        assert get_connection(s, "shop").company_file == r"\\NAS\Books\Shop.QBW"
        assert s.query(IdMapping).count() == 1


def test_switch_file_says_what_it_forgets_and_asks_first(fresh_env):
    from qbsync.connections import get_connection
    from qbsync.service.runtime import current
    from qbsync.storage.models import IdMapping

    runner = _shop_on_a_file_with_one_link(fresh_env)

    declined = runner.invoke(main, ["connection", "switch-file", "shop"], env=fresh_env, input="n\n")
    assert declined.exit_code != 0 and "nothing was changed" in declined.output
    assert "connection shop belongs to: C:\\Books\\Shop.QBW" in declined.output
    assert "this forgets 1 link to QuickBooks records and 0 reference list entries" in declined.output

    switched = runner.invoke(main, ["connection", "switch-file", "shop", "--to", r"D:\New\Shop 2027.QBW"],
                             env=fresh_env, input="y\n")
    assert switched.exit_code == 0, switched.output
    assert "switched: 1 link to QuickBooks records and 0 reference list entries forgotten" in switched.output
    with current().db.transaction() as s:
        assert get_connection(s, "shop").company_file == r"D:\New\Shop 2027.QBW"
        assert s.query(IdMapping).count() == 0
