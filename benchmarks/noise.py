"""How far a speed-up moves when the machine is busy: the baseline and the pruned setup of
``repnet-s``, prepared as the evaluator times them, timed in turns on a quiet machine and again
while other processes keep cores busy.

    .venv/bin/python benchmarks/noise.py --out benchmarks/noise.md
"""

from __future__ import annotations

import argparse
import multiprocessing
import warnings
from pathlib import Path

import torch
from report import header, time_in_turns

from autocompress.backends import ARTIFACT_FORMATS
from autocompress.compression.calibration import random_clips
from autocompress.models.repnet.recipe import apply_recipe
from autocompress.models.repnet.weights import load_model


def _spin() -> None:
    while True:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=5)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    model, _ = load_model("repnet-s")
    torch.manual_seed(0)
    calibration = random_clips(model, 2)
    example = calibration[:1]
    torchscript = ARTIFACT_FORMATS["torchscript"]
    pruned, _, _ = apply_recipe(model, "P", calibration)
    runners = {
        name: torchscript.load(torchscript.serialize(m, example))
        for name, m in (("baseline", model.eval()), ("pruned", pruned))
    }
    lines = [
        *header("Speed-up under background load"),
        "",
        f"`repnet-s`, prepared TorchScript, 1 thread, 8 warm-ups, {args.rounds} rounds of "
        f"{args.per_round} runs in turns; busy cores run `while True: pass` in other processes.",
        "",
        "| busy cores | baseline ms (IQR) | pruned ms (IQR) | speed-up |",
        "|---:|---:|---:|---:|",
    ]
    for busy in (0, 1, 2):
        spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(busy)]
        for spinner in spinners:
            spinner.start()
        try:
            times = time_in_turns(runners, example, 8, args.rounds, args.per_round)
        finally:
            for spinner in spinners:
                spinner.terminate()
        (base, base_iqr), (pruned_ms, pruned_iqr) = times["baseline"], times["pruned"]
        lines.append(
            f"| {busy} | {base:.1f} ({base_iqr:.1f}) | {pruned_ms:.1f} ({pruned_iqr:.1f}) | "
            f"x{base / pruned_ms:.3f} |"
        )
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
