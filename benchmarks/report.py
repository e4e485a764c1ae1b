"""What every benchmark table starts with: the command that produced it, the machine, the date."""

from __future__ import annotations

import datetime
import hashlib
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Hashable
from pathlib import Path

import torch

from autocompress.models.repnet.weights import shipped_weights


def command_line() -> str:
    return shlex.join([".venv/bin/python", *sys.argv])


def commit_line() -> str:
    """The commit the benchmark ran, and whether the work tree differed from it."""

    def git(*args: str) -> str:
        folder = Path(__file__).parent
        return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True).stdout

    changed = git("status", "--porcelain", "--untracked-files=no").strip()
    return f"commit {git('rev-parse', '--short', 'HEAD').strip()}" + (
        " with uncommitted changes" if changed else ""
    )


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


@torch.no_grad()
def time_in_turns(
    runs: dict[Hashable, Callable], example: torch.Tensor, warmup: int, rounds: int, per_round: int
) -> dict[Hashable, tuple[float, float]]:
    """Median and interquartile range (ms) of every runner, warmed up, then timed in turns
    round after round, so that drift of a shared machine hits them alike."""
    for runner in runs.values():
        for _ in range(warmup):
            runner(example)
    samples: dict[Hashable, list[float]] = {key: [] for key in runs}
    for _ in range(rounds):
        for key, runner in runs.items():
            for _ in range(per_round):
                started = time.perf_counter()
                runner(example)
                samples[key].append((time.perf_counter() - started) * 1e3)
    result = {}
    for key, values in samples.items():
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
        result[key] = (statistics.median(values), q3 - q1)
    return result
