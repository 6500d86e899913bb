"""The machine and the packages a benchmark ran on, for the lines under its table. Standard library
only: bench_detector.py measures its own process's memory."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine() -> str:
    return (
        f"{cpu_model()}, {os.cpu_count()} cores, {platform.machine()}, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def packages(names: Iterable[str]) -> str:
    return ", ".join(f"{name} {metadata.version(name)}" for name in names)
