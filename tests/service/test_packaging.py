"""pyproject.toml installs without setuptools' deprecation warnings."""

from __future__ import annotations

import re
import tomllib

from tests.conftest import REPO_ROOT


def test_the_license_is_an_spdx_string_and_the_build_needs_a_setuptools_that_reads_it():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    # A TOML table ({text = "MIT"}) makes setuptools 77+ warn on every install.
    assert project["project"]["license"] == "MIT"
    requires = project["build-system"]["requires"]
    setuptools = next(r for r in requires if r.startswith("setuptools"))
    minimum = re.fullmatch(r"setuptools>=(\d+)(?:\.\d+)*", setuptools)
    assert minimum is not None and int(minimum.group(1)) >= 77, setuptools
