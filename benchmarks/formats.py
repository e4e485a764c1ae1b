"""Latency a deployment would see: the case study's setups in each artifact format, side by side.

For each preset and setup (baseline, P, T, Q, P->T, P->T->Q of the hand-tuned recipe) the model is
serialized in every format and run as each runtime runs it: the eager Python module (for
reference), the TorchScript file as loaded (what every speed-up before this table divided by),
the same file prepared as a CPU deployment prepares it (frozen, and optimised for inference
unless it is mostly int8: the baseline now), the
``torch.export`` program, and optionally an AOTInductor package (compiled for this CPU).
Every runner is warmed up, then all are timed in turns, round after round, so drift of a shared
machine hits them alike; a latency is the median over all rounds.

    .venv/bin/python benchmarks/formats.py --out benchmarks/formats.md --aoti repnet-s
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from report import header, weights_line

from autocompress.backends import ARTIFACT_FORMATS
from autocompress.compression.calibration import random_clips
from autocompress.compression.recipes import apply_recipe
from autocompress.evaluators.size import MIB
from autocompress.models.weights import load_model

SETUPS = (
    ("baseline", ""),
    ("P", "P"),
    ("T", "T"),
    ("Q", "Q"),
    ("P->T", "PT"),
    ("P->T->Q", "PTQ"),
)
REFERENCE = "TorchScript, prepared"
# Timed rounds and runs per round: the full model takes seconds a run on one thread.
ROUNDS = {"repnet-s": (5, 5), "repnet": (3, 1)}


def _aoti(model: torch.nn.Module, example: torch.Tensor) -> tuple[Callable, int]:
    program = torch.export.export(model, (example,))
    with tempfile.TemporaryDirectory() as folder:
        path = torch._inductor.aoti_compile_and_package(
            program, package_path=str(Path(folder) / "model.pt2")
        )
        size = Path(path).stat().st_size
        return torch._inductor.aoti_load_package(path), size


def runners(model: torch.nn.Module, example: torch.Tensor, aoti: bool) -> dict:
    """Format -> (callable, size in bytes or None, seconds to build), or the reason it failed."""
    torchscript = ARTIFACT_FORMATS["torchscript"]
    exported = ARTIFACT_FORMATS["exported-program"]
    found: dict[str, tuple[Callable, int | None, float] | str] = {
        "eager (Python module)": (model, None, 0.0)
    }
    started = time.perf_counter()
    data = torchscript.serialize(model, example)
    found["TorchScript, as loaded"] = (
        torch.jit.load(io.BytesIO(data)).eval(),
        len(data),
        time.perf_counter() - started,
    )
    found[REFERENCE] = (torchscript.load(data), len(data), time.perf_counter() - started)
    builders = {"torch.export program": lambda: _exported(exported, model, example)}
    if aoti:
        builders["AOTInductor package"] = lambda: _aoti(model, example)
    for name, build in builders.items():
        started = time.perf_counter()
        try:
            runner, size = build()
            found[name] = (runner, size, time.perf_counter() - started)
        except Exception as error:
            found[name] = f"fails: {(str(error).splitlines() or [type(error).__name__])[0][:90]}"
    return found


def _exported(fmt, model, example) -> tuple[Callable, int]:
    data = fmt.serialize(model, example)
    return fmt.load(data), len(data)


@torch.no_grad()
def time_in_turns(
    runs: dict[str, Callable], example: torch.Tensor, warmup: int, rounds: int, per_round: int
) -> dict[str, tuple[float, float]]:
    """Median and interquartile range (ms) of every runner, timed in turns."""
    for runner in runs.values():
        for _ in range(warmup):
            runner(example)
    samples: dict[str, list[float]] = {key: [] for key in runs}
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


def measure_preset(preset: str, args: argparse.Namespace) -> list[str]:
    model, _ = load_model(preset)
    model.eval()
    torch.manual_seed(0)
    calibration = random_clips(model, 2)
    example = calibration[:1]
    cells: dict[tuple[str, str], tuple[Callable, int | None, float] | str] = {}
    for label, order in SETUPS:
        compressed, _, _ = apply_recipe(model, order, calibration)
        for name, found in runners(compressed, example, preset in args.aoti).items():
            cells[(label, name)] = found
        print(f"{preset} {label}: built", file=sys.stderr)
    timed = {key: value[0] for key, value in cells.items() if not isinstance(value, str)}
    rounds, per_round = ROUNDS[preset]
    times = time_in_turns(timed, example, args.warmup, rounds, per_round)
    base = times[("baseline", REFERENCE)][0]
    formats = list(dict.fromkeys(name for _, name in cells))
    lines = [
        "",
        f"## `{preset}` (weights: {weights_line(preset, None)})",
        "",
        f"Latency ms, median (IQR) over {rounds} rounds of {per_round} runs, and its ratio "
        "to the prepared baseline "
        f"({base:.1f} ms; above 1 is faster); size MiB of the file where there is one.",
        "",
        "| setup | " + " | ".join(formats) + " |",
        "|---|" + "---:|" * len(formats),
    ]
    for label, _ in SETUPS:
        row = []
        for name in formats:
            found = cells[(label, name)]
            if isinstance(found, str):
                row.append(found)
                continue
            median, spread = times[(label, name)]
            size = "" if found[1] is None else f", {found[1] / MIB:.2f} MiB"
            row.append(f"{median:.1f} ({spread:.1f}), x{base / median:.2f}{size}")
        lines.append(f"| {label} | " + " | ".join(row) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["repnet-s", "repnet"])
    parser.add_argument("--warmup", type=int, default=8)
    parser.add_argument(
        "--aoti", nargs="*", default=[], metavar="PRESET", help="also AOTInductor for these"
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # deprecation notices of torch.ao and TorchScript
    torch.set_num_threads(1)  # a small device's share; every format alike
    lines = [
        *header("Artifact formats: latency a deployment would see"),
        "",
        f"{__doc__.split(chr(10) + chr(10))[1]}".replace("\n", " "),
        "",
        f"Protocol: batch 1, 1 thread, {args.warmup} warm-ups each, then rounds of runs in "
        "turns. Setups: `CaseStudyRecipe` in the given order, calibrated on 2 random clips.",
    ]
    for preset in args.presets:
        lines += measure_preset(preset, args)
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
