"""What every benchmark table starts with: the command that produced it, the machine, the date."""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import sys

import torch


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
