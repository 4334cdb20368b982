"""The README documents every sync setting and keeps its two set-up commands."""

from __future__ import annotations

import re

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
