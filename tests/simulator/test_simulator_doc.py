"""docs/SIMULATOR.md stays true: every behaviour row names a test that exists, every "assumed" row's
test says so in its name or docstring, and every record a profile seeds is listed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from qbsync.simulator.profiles import PROFILES
from qbsync.simulator.profiles_doc import profiles_markdown

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "SIMULATOR.md").read_text(encoding="utf-8")


def behaviour_rows() -> list[tuple[str, str, str]]:
    """(behaviour, source, test) of every row of the Behaviours table (section rows skipped)."""
    section = DOC.split("## Behaviours", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("Behaviour", "---") or not cells[2]:
            continue
        rows.append((cells[0], cells[1], cells[2]))
    return rows


def functions_of(path: str) -> dict[str, str]:
    """test name -> docstring ("" when none) of a test file."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return {
        node.name: ast.get_docstring(node) or ""
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def test_the_table_is_there() -> None:
    assert len(behaviour_rows()) > 60


@pytest.mark.parametrize(("behaviour", "source", "test"), behaviour_rows(), ids=lambda v: str(v)[:50])
def test_each_behaviour_names_a_test_and_assumed_ones_say_so(behaviour: str, source: str, test: str) -> None:
    path, _, name = test.partition("::")
    functions = functions_of(path)
    assert name in functions, f"{test} does not exist (row: {behaviour})"
    if "assumed" in source.lower():
        said = "assumed" in name or "assumed" in functions[name].lower()
        assert said, f"{test} pins an assumed behaviour but does not say so (row: {behaviour})"


def test_the_profiles_section_is_what_the_profiles_seed() -> None:
    """Regenerate with ``python -m qbsync.simulator.profiles_doc`` after changing a profile."""
    section = DOC[DOC.index("### `service`") : DOC.index("## Not simulated")].rstrip("\n") + "\n"
    assert section == profiles_markdown()


@pytest.mark.parametrize("profile", [p for p in PROFILES if p != "legacy"])
def test_every_seeded_record_is_listed(profile: str) -> None:
    section = DOC.split(f"### `{profile}`", 1)[1].split("\n### ", 1)[0]
    for seed in PROFILES[profile].seeds:
        assert f"| {seed.kind} | {seed.data['Name']} |" in section, (profile, seed.data["Name"])
