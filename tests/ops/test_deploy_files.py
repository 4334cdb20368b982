"""The deployment files agree with the code they start: every setting the code reads is documented in the
example environment file (and nothing it names is unknown), every ``qbsync`` command they run exists, and
every file they copy or load is there. A renamed setting or command fails here, not on a server.
"""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest
from click.testing import CliRunner

from qbsync.service.cli import main
from qbsync.service.cli_secrets import SECRET_ENVIRONMENT

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
SETTING = re.compile(r"\bQBSYNC_[A-Z_]+[A-Z]\b")
# Names that are not an installation's settings: the test suite's, the Flask app.config key, and the
# secrets `qbsync connection add` reads from the environment instead of its command line.
NOT_FOR_INSTALLATIONS = {"QBSYNC_TEST_DATABASE_URL", "QBSYNC_TEST_REDIS_URL", "QBSYNC_REFERENCE_DIR",
                         "QBSYNC_RUNTIME", *SECRET_ENVIRONMENT.values()}


def _settings_read_by_the_service() -> set[str]:
    sources = [*(REPO / "qbsync").rglob("*.py"), DEPLOY / "gunicorn.conf.py"]
    return {name for path in sources for name in SETTING.findall(path.read_text())} - NOT_FOR_INSTALLATIONS


def _documented_settings() -> set[str]:
    lines = (DEPLOY / "env.example").read_text().splitlines()
    return {line.split("=", 1)[0] for line in lines if SETTING.match(line) and "=" in line}


def test_every_setting_the_service_reads_is_in_the_example_environment_file():
    missing = _settings_read_by_the_service() - _documented_settings()
    assert not missing, f"add to deploy/env.example: {sorted(missing)}"


def test_the_example_environment_file_names_only_real_settings():
    unknown = _documented_settings() - _settings_read_by_the_service()
    assert not unknown, f"deploy/env.example names settings nothing reads: {sorted(unknown)}"


def _qbsync_commands() -> list[tuple[str, list[str]]]:
    """Each ``qbsync …`` command line in the Dockerfile, the compose file and the systemd units."""
    found = []
    files = [DEPLOY / "Dockerfile", DEPLOY / "docker-compose.yml", *sorted((DEPLOY / "systemd").glob("*"))]
    for path in files:
        text = path.read_text()
        # Shell form (`sh -c "qbsync db upgrade && …"`, `.venv/bin/qbsync worker`) and exec form
        # (["qbsync", "worker"]).
        for match in re.finditer(r"(?:bin/|\"-c\",\s*\"|&&\s*)qbsync((?:\s+[a-z][a-z-]*)+)", text):
            found.append((path.name, match.group(1).split()))
        for match in re.finditer(r"\[\s*\"qbsync\"((?:\s*,\s*\"[a-z][a-z-]*\")+)", text):
            found.append((path.name, re.findall(r"\"([a-z][a-z-]*)\"", match.group(1))))
    return found


def test_every_qbsync_command_the_deployment_runs_exists():
    commands = _qbsync_commands()
    names = {" ".join(words[:1]) for _, words in commands}
    assert {"worker", "scheduler", "db", "serve"} <= names, commands  # the parser found them
    for source, words in commands:
        result = CliRunner().invoke(main, [*words, "--help"])
        command = " ".join(words)
        assert result.exit_code == 0, f"{source}: `qbsync {command}` is not a command: {result.output}"
        assert "No such command" not in result.output


def test_the_dockerfile_copies_files_that_exist():
    copies = re.findall(r"^COPY\s+(.+?)\s+\S+$", (DEPLOY / "Dockerfile").read_text(), re.MULTILINE)
    assert copies
    for sources in copies:
        for source in sources.split():
            assert (REPO / source).exists(), f"deploy/Dockerfile copies {source}, which is not in the repo"


def test_the_compose_file_builds_from_the_repository_with_the_dockerfile():
    compose = (DEPLOY / "docker-compose.yml").read_text()
    builds = re.findall(r"build:\s*\{context:\s*([^,]+),\s*dockerfile:\s*([^}]+)\}", compose)
    assert len(builds) == 3  # web, worker, scheduler
    for context, dockerfile in builds:
        root = (DEPLOY / context.strip()).resolve()
        assert root == REPO and (root / dockerfile.strip()).is_file()


@pytest.mark.parametrize("cores", [1, 2, 8])
def test_gunicorn_settings_load_and_scale_with_the_cores(monkeypatch, cores):
    monkeypatch.setattr("multiprocessing.cpu_count", lambda: cores)
    for name in ("QBSYNC_WEB_WORKERS", "QBSYNC_WEB_THREADS", "QBSYNC_BIND"):
        monkeypatch.delenv(name, raising=False)
    settings = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert settings["workers"] == 2 * cores and settings["threads"] == 3
    assert settings["worker_class"] == "gthread" and settings["bind"] == "127.0.0.1:8000"
    assert settings["worker_tmp_dir"] in (None, "/dev/shm")


def _requirements() -> list[str]:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]


def test_every_dependency_has_a_tested_upper_bound_and_constraints_pin_a_version_inside_it():
    from packaging.requirements import Requirement

    pinned = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pinned[name.strip().lower().replace("_", "-")] = version.strip()
    for text in _requirements():
        requirement = Requirement(text)
        assert any(s.operator in ("<", "<=", "==", "~=") for s in requirement.specifier), \
            f"{text}: no upper bound"
        name = requirement.name.lower().replace("_", "-")
        assert name in pinned, f"{name} is not pinned in constraints.txt"
        assert requirement.specifier.contains(pinned[name]), f"constraints.txt pins {name} {pinned[name]} " \
            f"outside {requirement.specifier}"


def test_make_install_and_the_docker_image_install_through_the_constraints_file():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"pip install .*-c constraints\.txt -e '\.\[test\]'", makefile)
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    assert "-c constraints.txt" in dockerfile and re.search(r"COPY .*constraints\.txt", dockerfile)


def test_nginx_lets_through_every_body_the_app_accepts():
    """A QuickBooks answer the app would take must not be refused by nginx first (a 413 ends the Web
    Connector's session); webhooks get the app's own 413 with a reason, so nginx allows a little more."""
    from qbsync.config import Config
    from qbsync.qwc.xml_safety import MAX_DOCUMENT_BYTES

    conf = (DEPLOY / "nginx" / "qbsync.conf").read_text()

    def megabytes(text: str) -> int:
        (size,) = re.findall(r"client_max_body_size (\d+)m;", text)
        return int(size) * 1024 * 1024

    qbwc = re.search(r"location /qbwc \{(.*?)\n    \}", conf, re.S)
    assert qbwc is not None, "nginx needs a location /qbwc with its own body limit"
    server_wide = conf[conf.index("listen 443"):qbwc.start()]
    assert megabytes(qbwc.group(1)) > MAX_DOCUMENT_BYTES
    assert megabytes(server_wide) > Config.from_env({}).max_webhook_bytes
    assert "proxy_pass http://qbsync_web;" in qbwc.group(1)
