"""Counting and recovery on a GPU (``accuracy_device: cuda``) against the CPU, side by side.

Counts the same synthetic videos with repnet-s on the CPU and on the GPU (the MAE/OBO must
agree), times counting chunks of the full RepNet on both, and times recovery steps of both
presets; from those, the expected wall time of one `repnet-quva` trial (100 QUVA videos with
the full model) on each. Latency is not measured here: it stays where the artifact runs.

    PYTHONPATH=. python3 benchmarks/accuracy_device.py --out benchmarks/accuracy_device.md

Run on a machine with a GPU (it also runs without one, CPU columns only). The committed table
came from the lent H200 machine, whose image has torch 2.11 with CUDA; PyAV, TensorLy and
torch-pruning travelled as wheels.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import torch
from report import header

from autocompress.compression import FinetuneStep, Pipeline, apply_pipeline
from autocompress.data.quva import QuvaDataset
from autocompress.data.synthetic import generate_dataset
from autocompress.models.repnet.network import build_repnet
from autocompress.models.repnet.quva_accuracy import evaluate_counts
from autocompress.models.repnet.recipe import CaseStudyRecipe
from autocompress.models.repnet.weights import load_model

# A QUVA video: about 10 chunks of 64 frames over the four counting strides (issue 13's figure).
CHUNKS_PER_VIDEO, QUVA_VIDEOS = 10, 100


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


@torch.no_grad()
def seconds_per_chunk(model: torch.nn.Module, device: str, batch: int, repeats: int) -> float:
    model = model.to(device).eval()
    clips = torch.rand(batch, *model.config.input_shape, device=device) * 2 - 1
    model(clips)
    _synchronize(device)
    started = time.perf_counter()
    for _ in range(repeats):
        model(clips)
    _synchronize(device)
    return (time.perf_counter() - started) / (repeats * batch)


def seconds_per_recovery_step(preset: str, device: str, steps: int, batch: int) -> float:
    teacher = load_model(preset)[0] if preset == "repnet-s" else build_repnet(preset)
    teacher.eval()
    prune = CaseStudyRecipe().prune(teacher)
    start = time.perf_counter()
    step = FinetuneStep(steps=0, batch_size=batch, bn_batches=1)
    apply_pipeline(teacher, Pipeline([prune, step]), device=device)
    setup = time.perf_counter() - start
    start = time.perf_counter()
    step = FinetuneStep(steps=steps, batch_size=batch, bn_batches=1)
    apply_pipeline(teacher, Pipeline([prune, step]), device=device)
    return (time.perf_counter() - start - setup) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=16)
    parser.add_argument("--cpu-repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    lines = [
        *header("Counting and recovery on a GPU against the CPU"),
        "",
        f"Devices: CPU ({torch.get_num_threads()} threads), GPU: {gpu}; torch {torch.__version__}.",
        "",
        "| measurement | " + " | ".join(devices) + " |",
        "|---|" + "---:|" * len(devices),
    ]
    with tempfile.TemporaryDirectory() as folder:
        generate_dataset(Path(folder), args.videos, seed=1000)
        dataset = QuvaDataset(Path(folder))
        model = load_model("repnet-s")[0].eval()
        cells, seconds = [], []
        for device in devices:
            started = time.perf_counter()
            report = evaluate_counts(model, dataset, progress=False, device=device)
            seconds.append(time.perf_counter() - started)
            cells.append(f"MAE {report.mae:.4f} / OBO {report.obo:.4f}")
        lines.append(f"| repnet-s, {args.videos} videos | " + " | ".join(cells) + " |")
        lines.append(
            f"| repnet-s counting, s for {args.videos} videos | "
            + " | ".join(f"{s:.1f}" for s in seconds)
            + " |"
        )
    full = build_repnet("repnet")
    per_chunk = {
        device: seconds_per_chunk(full, device, 8, args.cpu_repeats if device == "cpu" else 10)
        for device in devices
    }
    lines.append(
        "| full RepNet, s per 64-frame chunk (batch 8) | "
        + " | ".join(f"{per_chunk[d]:.3f}" for d in devices)
        + " |"
    )
    trial = {d: per_chunk[d] * CHUNKS_PER_VIDEO * QUVA_VIDEOS / 60 for d in devices}
    lines.append(
        f"| expected counting per `repnet-quva` trial ({QUVA_VIDEOS} videos x "
        f"{CHUNKS_PER_VIDEO} chunks), min | "
        + " | ".join(f"{trial[d]:.2f}" for d in devices)
        + " |"
    )
    # (preset, batch, steps on the CPU, steps on the GPU): the full model is slow on one thread.
    for preset, batch, cpu_steps, gpu_steps in (("repnet-s", 8, 10, 40), ("repnet", 4, 1, 10)):
        cells = []
        for device in devices:
            steps = cpu_steps if device == "cpu" else gpu_steps
            cells.append(f"{seconds_per_recovery_step(preset, device, steps, batch):.2f}")
        lines.append(
            f"| {preset} recovery, s per step (batch {batch}) | " + " | ".join(cells) + " |"
        )
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
