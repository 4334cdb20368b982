"""The README documents every sync setting, keeps its two set-up commands, and every command it shows
works as written (parsed from the README and run)."""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from qbsync.queue.settings import DEFINITIONS
from tests.conftest import REPO_ROOT


def test_every_setting_is_documented_in_the_readme():
    readme = (REPO_ROOT / "README.md").read_text()
    missing = [s.name for s in DEFINITIONS if f"`{s.name}`" not in readme]
    assert not missing, f"README lacks these settings: {missing}"


def test_the_readme_shows_exactly_two_setup_commands():
    readme = (REPO_ROOT / "README.md").read_text()
    block = readme.split("## Two commands", 1)[1].split("```", 2)[1]
    commands = [line for line in block.splitlines()[1:] if line.strip()]
    assert [re.split(r"\s+#", c)[0].strip() for c in commands] == ["make serve", "make test"]


# --- the README's commands, run as written -----------------------------------------------------------


def section(title: str) -> str:
    """The README text under ``## title``, up to the next section."""
    readme = (REPO_ROOT / "README.md").read_text()
    return readme.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def shell_blocks(text: str) -> list[str]:
    """The ```sh code blocks of ``text``."""
    return [block.split("```", 1)[0] for block in text.split("```sh\n")[1:]]


def commands_of(block: str) -> list[str]:
    """The commands of a code block: continuation lines joined, comments dropped."""
    joined = block.replace("\\\n", " ")
    return [" ".join(shlex.split(line, comments=True)) for line in joined.splitlines()
            if shlex.split(line, comments=True)]


def newcomer_env(data_dir: Path) -> dict[str, str]:
    """A fresh clone's environment: no QBSYNC_* settings except a fresh temporary data folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QBSYNC_")}
    env.update(QBSYNC_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    return env


def needs_the_venv() -> None:
    """`make install` is satisfied when the clone's .venv has qbsync (the test run's own environment)."""
    if not (REPO_ROOT / ".venv" / "bin" / "qbsync").exists():
        pytest.skip("the README's commands use .venv/bin/qbsync; run `make install` first")


def read_until(process: subprocess.Popen, pattern: str, timeout: float) -> list[str]:
    """Lines the process prints, up to the first matching ``pattern`` (the rest: :func:`printed_after`)."""
    lines: queue.Queue[str | None] = queue.Queue()
    _LINES[process.pid] = lines

    def pump() -> None:
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(line)
        if re.match(pattern, line):
            return seen
    pytest.fail(f"never printed {pattern!r}; printed:\n" + "\n".join(seen))


_LINES: dict[int, queue.Queue[str | None]] = {}


def printed_after(process: subprocess.Popen, wait: float = 2) -> list[str]:
    """What the process printed after :func:`read_until` returned, until it closed its output."""
    lines, rest = _LINES[process.pid], []
    while (line := lines.get(timeout=wait)) is not None:
        rest.append(line)
    return rest


def as_from_a_terminal() -> None:
    """Start a command as a shell starts a foreground program: Ctrl-C (SIGINT) at its default. Run as a
    background job of a script (how CI may run the suite), the tests inherit SIGINT ignored, and so would
    the demo: its Ctrl-C would do nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def sign_in(base_url: str, username: str, password: str) -> httpx.Client:
    """A browser-like client signed in to the pages."""
    client = httpx.Client(base_url=base_url, follow_redirects=True, timeout=30)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert answer.status_code == 200 and "Sign out" in answer.text, answer.text[:500]
    return client


def test_the_quick_start_is_at_most_three_commands_and_says_what_needs_a_second_terminal():
    text = section("Quick start")
    commands = [c for block in shell_blocks(text) for c in commands_of(block)]
    assert 1 <= len(commands) <= 3, commands
    assert "second terminal" in text


@pytest.mark.slow
def test_the_quick_start_works_as_written(tmp_path):
    needs_the_venv()
    commands = [c for block in shell_blocks(section("Quick start")) for c in commands_of(block)]
    runnable = [c for c in commands if not c.startswith("make ")]
    assert [c.split()[0] for c in runnable] == [".venv/bin/qbsync"]
    process = subprocess.Popen(shlex.split(runnable[0]), cwd=REPO_ROOT, env=newcomer_env(tmp_path / "data"),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               preexec_fn=as_from_a_terminal)
    try:
        printed = read_until(process, r"demo: \d+ orders in the simulated QuickBooks", timeout=180)
        orders = int(printed[-1].split()[1])
        pages = re.search(r"The pages: (http://\S+?)/ ", "\n".join(printed)).group(1)
        password = re.search(r"Sign in as 'demo-admin' with the password '([^']+)'", "\n".join(printed))
        browser = sign_in(pages, "demo-admin", password.group(1))
        records = browser.get("/simulated-quickbooks")
        queue_page = browser.get("/queue")
        log_page = browser.get("/log")
        process.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()  # a demo whose stop hangs prints every thread's stack after 10 s: show them
            rest = "\n".join(printed_after(process))
            pytest.fail(f"the demo did not stop within 30 s of Ctrl-C; it printed:\n{rest[-6000:]}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert orders == 6
    from qbsync.simulator.demo_orders import sample_orders

    for sample in sample_orders(orders):  # each order in the pages' simulated QuickBooks records
        assert f"<td>{sample.number}</td>" in records.text
    assert queue_page.status_code == 200 and log_page.status_code == 200
    assert process.returncode == 0
    with pytest.raises(httpx.ConnectError):  # Ctrl-C stopped the service it started
        httpx.get(f"{pages}/healthz", timeout=2)


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("openssl")), reason="needs curl and openssl")
def test_try_it_without_windows_works_as_written(tmp_path):
    needs_the_venv()
    from tests.ops.processes import free_port, wait_until

    text = section("Try it without Windows")
    assert "make serve" in text and "second terminal" in text
    env = newcomer_env(tmp_path / "data")
    port = free_port()
    # `make serve` runs `qbsync serve --host 127.0.0.1 --port 8000`; here on a free port instead.
    serve = subprocess.Popen([str(REPO_ROOT / ".venv/bin/qbsync"), "serve", "--host", "127.0.0.1", "--port",
                              str(port)], cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, 30, "qbsync serve")
        outputs = []
        for block in shell_blocks(text):
            script = block.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
            done = subprocess.run(["bash", "-e", "-c", script], cwd=REPO_ROOT, env=env, capture_output=True,
                                  text=True, timeout=120)
            assert done.returncode == 0, done.stdout + done.stderr
            outputs.append(done.stdout + done.stderr)
    finally:
        serve.terminate()
        serve.wait(timeout=10)

    from qbsync.simulator.company import QuickBooksCompany

    promised = re.search(r"`(added to QuickBooks: [^`]+)`", text).group(1)
    for output, (user, number) in zip(outputs, [("shop", "5001"), ("myshop", "1001")], strict=True):
        assert '"status":"stored"' in output
        assert promised in output
        assert "Traceback" not in output and "3140" not in output
        company = QuickBooksCompany.load(tmp_path / "data" / "simulated-quickbooks" / f"{user}.json")
        assert company.find("SalesReceipt", number) is not None, output


def test_the_readme_health_example_is_what_the_embedded_default_answers(client):
    text = (REPO_ROOT / "README.md").read_text()
    example = re.search(r"`GET /healthz` answers 200 `([^`]+)` on the embedded\s+default", text)
    assert example is not None
    assert json.loads(example.group(1)) == client.get("/healthz").get_json()
