"""Fixtures for the qbXML tests: the reference samples folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def samples_dir(reference_dir: Path) -> Path:
    """shared/reference/qbxml/samples: real QuickBooks requests and responses."""
    return reference_dir / "qbxml" / "samples"
