"""Latency measured by a command: the artifact runs on the user's device (or any runtime the
host cannot load), and the command prints how long it took.

The study gives a command template; ``{artifact}`` becomes the path of the file to time,
``{warmup}``, ``{runs}`` and ``{threads}`` the timing protocol, ``{input_shape}`` the example's
shape (``1,3,64,112,112``; a model of several inputs: their shapes joined by ``;``, as PyTorch's
``speed_benchmark_torch --input_dims`` takes them) and ``{input_type}`` their types (``float``,
``int64``; ``--input_type``). Every match of ``pattern`` in the command's output is one timed run
(its first group a number in ``unit``), so a runner that prints each run gives the median and
the spread, and one that prints an average gives that. For PyTorch's mobile benchmark, say::

    adb push {artifact} /data/local/tmp/m.pt && adb shell /data/local/tmp/speed_benchmark_torch
      --model /data/local/tmp/m.pt --input_dims "{input_shape}" --input_type "{input_type}"
      --warmup {warmup} --iter {runs}
    pattern: 'Microseconds per iter: ([0-9.]+)', unit: us

A command that fails, times out or prints no match raises :class:`LatencyCommandFailed` with
the device's own last words, which fails that trial and not the study.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from autocompress.errors import UserError
from autocompress.inputs import Inputs, type_name
from autocompress.timing import Timing, TimingProtocol

__all__ = ["DEFAULT_PATTERN", "UNITS", "CommandTimer", "LatencyCommandFailed"]

UNITS = {"s": 1e3, "ms": 1.0, "us": 1e-3}  # to milliseconds
DEFAULT_PATTERN = r"latency_ms: ([0-9.eE+-]+)"  # what local_runner prints


class LatencyCommandFailed(RuntimeError):
    """The latency command failed for this artifact; the message is what it said."""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


@dataclass(frozen=True)
class CommandTimer:
    template: str
    pattern: str = DEFAULT_PATTERN
    unit: str = "ms"
    timeout_s: float = 600.0

    def __post_init__(self) -> None:
        if "{artifact}" not in self.template:
            raise UserError("latency.command must contain {artifact}, the file to time")
        try:
            groups = re.compile(self.pattern).groups
        except re.error as error:
            raise UserError(f"latency.pattern is not a regular expression: {error}") from None
        if groups != 1:
            raise UserError("latency.pattern needs exactly one group: the number")
        if self.unit not in UNITS:
            raise UserError(f"latency.unit: {self.unit!r}; choose from {', '.join(UNITS)}")

    def command(self, artifact: Path, protocol: TimingProtocol, example: Inputs) -> str:
        return self.template.format(
            artifact=shlex.quote(str(artifact)),
            warmup=protocol.warmup,
            runs=protocol.runs,
            threads=protocol.threads or 0,
            input_shape=shlex.quote(";".join(",".join(map(str, t.shape)) for t in example)),
            input_type=shlex.quote(";".join(type_name(t.dtype) for t in example)),
        )

    def __call__(
        self, data: bytes, suffix: str, protocol: TimingProtocol, example: Inputs
    ) -> Timing:
        return Timing.from_samples(self.samples(data, suffix, protocol, example))

    def samples(
        self, data: bytes, suffix: str, protocol: TimingProtocol, example: Inputs
    ) -> list[float]:
        """Milliseconds of each timed run the command printed for the artifact ``data``."""
        with tempfile.TemporaryDirectory(prefix="autocompress-latency-") as folder:
            artifact = Path(folder) / f"model{suffix}"
            artifact.write_bytes(data)
            command = self.command(artifact, protocol, example)
            try:
                done = subprocess.run(
                    command,
                    shell=True,
                    capture_output=True,
                    text=True,
                    timeout=self.timeout_s,
                    stdin=subprocess.DEVNULL,
                )
            except subprocess.TimeoutExpired:
                raise LatencyCommandFailed(
                    f"latency command timed out after {self.timeout_s:g} s"
                ) from None
        if done.returncode != 0:
            said = _last_line(done.stderr or done.stdout)
            raise LatencyCommandFailed(f"latency command exited {done.returncode}: {said}")
        samples = [
            float(value) * UNITS[self.unit] for value in re.findall(self.pattern, done.stdout)
        ]
        if not samples:
            raise LatencyCommandFailed(
                f"latency command printed nothing matching {self.pattern!r}: "
                f"{_last_line(done.stdout)}"
            )
        return samples
