"""What the numbers were measured on: CPU, cores, memory, Python, database and Redis versions, load."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              timeout=5, cwd=Path(__file__).resolve().parent.parent)
        return done.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def describe(database_version: str | None = None, redis_version: str | None = None) -> dict[str, Any]:
    """The machine, as stored with every result."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "database": database_version,
        "redis": redis_version,
        "load_average_at_start": [round(x, 2) for x in load] if load else None,
        "commit": _commit(),
    }
