"""Decode and evaluation time over synthetic videos, with and without the decoded-video cache.

    .venv/bin/python benchmarks/data_decode.py --videos 100 --out benchmarks/data_decode.md

Generates the set (seed 0, default style) unless ``--data`` names one, then times, each over
all videos: decoding without a cache; filling an empty cache; reading a warm cache from a new
process-like state (file hashes recomputed) and with hashes already memoised (what a search
does after its first trial); and the full ``evaluate_counts`` without and with a warm cache.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from autocompress.data.quva import QuvaDataset
from autocompress.data.synthetic import SynthStyle, generate_dataset
from autocompress.models.repnet.quva_accuracy import evaluate_counts
from autocompress.models.repnet.weights import load_model


def _seconds(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _decode_all(dataset: QuvaDataset, size: int) -> int:
    return sum(dataset.frames(item, size).shape[0] for item in dataset)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=100)
    parser.add_argument("--data", type=Path, help="an existing QUVA-layout set to time")
    parser.add_argument("--preset", default="repnet-s")
    parser.add_argument("--out", type=Path, help="write the table here as Markdown")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="autocompress-bench-"))
    data = args.data or work / "synth"
    generate_seconds = 0.0
    if args.data is None:
        generate_seconds = _seconds(lambda: generate_dataset(data, args.videos, seed=0))
    model, source = load_model(args.preset)
    size = model.config.image_size
    cache = work / "cache"

    uncached = QuvaDataset(data, cache=False)
    frames = _decode_all(uncached, size)  # also brings the files into the OS page cache
    warm = QuvaDataset(data, cache=cache)
    steps: list[tuple[str, Callable[[], object]]] = [
        ("decode, no cache", lambda: _decode_all(uncached, size)),
        ("decode + fill an empty cache", lambda: _decode_all(QuvaDataset(data, cache), size)),
        ("warm cache, first pass (hash + load)", lambda: _decode_all(warm, size)),
        ("warm cache, hashes memoised (load)", lambda: _decode_all(warm, size)),
        ("evaluate_counts, no cache", lambda: evaluate_counts(model, uncached, progress=False)),
        ("evaluate_counts, warm cache", lambda: evaluate_counts(model, warm, progress=False)),
    ]
    rows = [(name, _seconds(step)) for name, step in steps]
    cache_mb = sum(p.stat().st_size for p in cache.rglob("*.npy")) / 1e6
    data_mb = sum(p.stat().st_size for p in (data / "videos").iterdir()) / 1e6
    shutil.rmtree(work)
    style = SynthStyle()
    data_note = (
        f"synthetic, seed 0, default style ({style.size[0]}x{style.size[1]}, {style.fps} fps)"
        if args.data is None
        else str(args.data)
    )

    lines = [
        f"# Decode and evaluation time, {len(uncached)} synthetic videos",
        "",
        f"- command: `.venv/bin/python benchmarks/data_decode.py --videos {args.videos}`",
        f"- date: {datetime.date.today().isoformat()}; machine: {platform.machine()}, "
        f"{os.cpu_count()} cores, {torch.get_num_threads()} torch threads, no GPU",
        f"- data: {data_note}, {frames} frames in all, "
        f"{data_mb:.1f} MB of mp4 (generated in {generate_seconds:.0f} s)",
        f"- model: {args.preset} ({source}; random weights only change the counts, not the time), "
        f"frames resized to {size}x{size}; cache: {cache_mb:.1f} MB of uint8",
        "",
        "| step (all videos) | seconds | ms per video |",
        "|---|---:|---:|",
        *(
            f"| {name} | {seconds:.2f} | {1000 * seconds / len(uncached):.1f} |"
            for name, seconds in rows
        ),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
