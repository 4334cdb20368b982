"""Configuration from the environment, the schema, and secrets at rest."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import text

from qbsync.config import Config
from qbsync.storage.encryption import mask


def test_embedded_default_is_sqlite_in_a_per_user_data_folder(tmp_path):
    cfg = Config.from_env({"HOME": str(tmp_path)})
    assert cfg.database_url.startswith("sqlite:///")
    assert cfg.redis_url is None
    assert Path(cfg.database_url.removeprefix("sqlite:///")).parent == cfg.data_dir


def test_postgres_urls_use_psycopg3_and_bad_numbers_are_named():
    cfg = Config.from_env({"QBSYNC_DATABASE_URL": "postgres://u@h/db", "QBSYNC_REDIS_URL": "redis://r:6379/0",
                           "QBSYNC_DATA_DIR": "/tmp/x"})
    assert cfg.database_url == "postgresql+psycopg://u@h/db"
    assert cfg.redis_url == "redis://r:6379/0"
    try:
        Config.from_env({"QBSYNC_MAX_WEBHOOK_BYTES": "lots", "QBSYNC_DATA_DIR": "/tmp/x"})
    except ValueError as exc:
        assert "QBSYNC_MAX_WEBHOOK_BYTES" in str(exc)
    else:
        raise AssertionError("a non-number must be refused")


def test_schema_is_at_the_newest_migration_and_upgrade_is_idempotent(db):
    assert db.is_up_to_date()
    db.upgrade()
    assert db.is_up_to_date()


def test_webhook_secret_is_encrypted_in_the_table(runtime, make_connection):
    make_connection(webhook_secret="whsec-visible-nowhere")
    with runtime.db.engine.connect() as conn:
        raw = conn.execute(text("SELECT webhook_secret FROM connections")).scalar_one()
    assert "whsec-visible-nowhere" not in raw


def test_mask_shows_only_the_end():
    assert mask("cs_1234567890abcdef") == "••••••••cdef"
    assert mask("") == ""
    assert "abc" not in mask("abcdef")


def test_healthz_reports_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok"}}


def test_the_embedded_database_and_its_folder_are_private_to_their_owner(tmp_path):
    import stat

    from click.testing import CliRunner

    from qbsync.service.cli import main

    previous = os.umask(0o022)  # a common default: files world-readable unless created otherwise
    try:
        env = {"QBSYNC_DATA_DIR": str(tmp_path / "data"), "QBSYNC_DATABASE_URL": "", "QBSYNC_SECRET_KEY": "",
               "QBSYNC_REDIS_URL": ""}
        result = CliRunner().invoke(main, ["user", "add", "owner", "--password-stdin"], env=env,
                                    input="owner password 1\n")
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    data = tmp_path / "data"
    files = [data / "qbsync.sqlite3", data / "qbsync.sqlite3-wal", data / "secret.key"]
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in files if path.exists()}
    assert modes["qbsync.sqlite3"] == 0o600, modes
    assert all(mode == 0o600 for mode in modes.values()), modes
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
