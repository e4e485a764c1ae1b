"""Accuracy of the shipped ``repnet-s`` on held-out synthetic videos: the training look, and
looks the training never saw (resolution, frame rate, colours, sizes, noise), each next to the
best constant-count guess on the same videos.

    .venv/bin/python benchmarks/default_model.py --out benchmarks/default_model.md

Evaluation seeds are >= 5000; training draws clips from seeds 0..999 (see the model card).
Videos go through the real path: mp4 written, decoded, resized, counted with all strides.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

from autocompress.data.quva import QuvaDataset
from autocompress.data.synthetic import SynthStyle, generate_dataset
from autocompress.models.repnet.counting import CountingConfig
from autocompress.models.repnet.quva_accuracy import evaluate_counts, mae_obo
from autocompress.models.repnet.weights import load_model

DEFAULT = SynthStyle()
LOOKS: dict[str, SynthStyle] = {
    "training look (160x120, 25 fps)": DEFAULT,
    "320x240, 50 fps": dataclasses.replace(DEFAULT, size=(320, 240), fps=50),
    "96x128 portrait, 12 fps": dataclasses.replace(DEFAULT, size=(96, 128), fps=12),
    "blue-green only, large shapes": dataclasses.replace(
        DEFAULT, hues=(0.4, 0.7), shape_radius=(0.15, 0.25)
    ),
    "small shapes, 3x noise and shake": dataclasses.replace(
        DEFAULT,
        shape_radius=(0.04, 0.07),
        noise=3 * DEFAULT.noise,
        shake=3 * DEFAULT.shake,
    ),
}


def best_constant(true: list[int]) -> tuple[int, float, float]:
    """The constant count with the lowest MAE on these videos (an oracle: it sees the truth)."""
    candidates = range(1, max(true) + 1)
    scored = [(mae_obo(true, [c] * len(true)), c) for c in candidates]
    (mae, obo), constant = min(scored)
    return constant, mae, obo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=200, help="videos in the training look")
    parser.add_argument("--other-videos", type=int, default=50, help="videos per other look")
    parser.add_argument("--weights", type=Path, help="default: the shipped weights")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    model, source = load_model("repnet-s", args.weights)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for index, (look, style) in enumerate(LOOKS.items()):
            count = args.videos if index == 0 else args.other_videos
            videos = Path(folder) / f"look{index}"
            generate_dataset(videos, count, seed=5000 + index, style=style)
            dataset = QuvaDataset(videos, cache=Path(folder) / "cache")
            started = time.perf_counter()
            report = evaluate_counts(model, dataset)
            seconds = time.perf_counter() - started
            official = evaluate_counts(model, dataset, counting=CountingConfig.official())
            true = [v.true for v in report.videos]
            constant, constant_mae, constant_obo = best_constant(true)
            rows.append(
                f"| {look} | {report.n_videos} | {np.median(true):.0f} | **{report.mae:.3f}** | "
                f"**{report.obo:.3f}** | {official.mae:.3f} | {official.obo:.3f} | {constant} | "
                f"{constant_mae:.3f} | {constant_obo:.3f} | {seconds / report.n_videos:.2f} |"
            )
            print(rows[-1], flush=True)

    command = " ".join(["python", *sys.argv])
    header = (
        "| videos | n | median count | MAE | OBO | official: MAE | OBO | best constant | its MAE "
        "| its OBO | s/video |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    args.out.write_text(
        f"""# The shipped repnet-s on held-out synthetic videos

Command: `{command}`

Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {date.today()}.
Weights: `{os.path.relpath(source)}`.
Counting: strides 1-4, median filter 5, counts rounded (DESIGN.md §3-4), with the alias guard
and sub-class periods of `autocompress.models.repnet.counting` (the default); "official" is the
demo's
procedure exactly (`CountingConfig.official()`, `evaluate --official-counting`) on the same
videos. s/video: decoding, resizing and the default counting.
"Best constant" is the single count with the lowest MAE on the same videos, chosen knowing the
truth: the bar a model that ignores the video cannot beat.

{header}
{chr(10).join(rows)}
"""
    )
    print(args.out.read_text())


if __name__ == "__main__":
    main()
