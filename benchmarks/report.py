"""What every benchmark table starts with: the command that produced it, the machine, the date."""

from __future__ import annotations

import datetime
import hashlib
import os
import platform
import shlex
import sys
from pathlib import Path

import torch

from autocompress.models.weights import shipped_weights


def command_line() -> str:
    return shlex.join([".venv/bin/python", *sys.argv])


def machine_line() -> str:
    """The machine and how busy it was, since timings here come from a shared 2-core box."""
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}, torch "
        f"{torch.__version__}, {datetime.date.today().isoformat()}; 1-minute load "
        f"{os.getloadavg()[0]:.1f} when this table was written (other jobs may have shared "
        "the CPU)"
    )


def header(title: str) -> list[str]:
    return [f"# {title}", "", f"Command: `{command_line()}`", "", f"Machine: {machine_line()}."]


def weights_line(preset: str, weights: str | None) -> str:
    """Which weights a table was measured with, by content, since shipped weights change."""
    path = weights or shipped_weights(preset)
    if path is None:
        return "random init"
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
    return f"`{path}` (sha256 {digest}...)"
