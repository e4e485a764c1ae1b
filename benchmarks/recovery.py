"""Recovery by distillation: the case study's setups on repnet-s, raw and recovered.

Each setup (P, T, P->T, P->T->Q of `CaseStudyRecipe`) is counted on held-out synthetic videos
raw, after batch-norm re-estimation only (`finetune: {steps: 0}`), and after recovery at several
step counts (each its own run: the schedule follows the planned steps), with the wall time of
the recovery. In P->T->Q the finetune step stands before quantization, as the pipeline
requires; its int8 layers are chosen by SQNR on the recovered model.

    .venv/bin/python benchmarks/recovery.py --out benchmarks/recovery.md
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import torch
from case_study import videos
from report import header

from autocompress.compression import FinetuneStep, Pipeline, apply_pipeline
from autocompress.data.quva import QuvaDataset
from autocompress.models.repnet.adapter import calibration_clips
from autocompress.models.repnet.network import PRESETS
from autocompress.models.repnet.quva_accuracy import evaluate_counts
from autocompress.models.repnet.recipe import CaseStudyRecipe
from autocompress.models.repnet.weights import load_model

SETUPS = (("P", "P"), ("T", "T"), ("P->T", "PT"), ("P->T->Q", "PTQ"))


def recipe_steps(model: torch.nn.Module, order: str, calibration: torch.Tensor) -> list:
    """The recipe's prune and tensorize steps, each sized on the model the previous left."""
    recipe, steps = CaseStudyRecipe(), []
    current = model
    for letter in order.replace("Q", ""):
        step = recipe.prune(current) if letter == "P" else recipe.tensorize(current)
        steps.append(step)
        current, _ = apply_pipeline(current, Pipeline([step]), calibration)
    return steps


def score(model: torch.nn.Module, held_out: QuvaDataset) -> tuple[float, float]:
    size = PRESETS["repnet-s"].image_size  # int8 graphs carry no RepNet config
    report = evaluate_counts(model, held_out, progress=False, image_size=size)
    return report.mae, report.obo


def measure(
    order: str,
    recovery_steps: int | None,
    model: torch.nn.Module,
    calibration: torch.Tensor,
    held_out: QuvaDataset,
) -> tuple[float, float, float]:
    """(MAE, OBO, seconds of recovery) of one setup; ``recovery_steps`` None: raw."""
    steps = recipe_steps(model, order, calibration)
    if recovery_steps is not None:
        steps.append(FinetuneStep(steps=recovery_steps))
    started = time.perf_counter()
    compressed, _ = apply_pipeline(model, Pipeline(steps), calibration)
    seconds = time.perf_counter() - started if recovery_steps is not None else 0.0
    if "Q" in order:
        recipe = CaseStudyRecipe()
        quantize = recipe.quantize(compressed, calibration)
        compressed, _ = apply_pipeline(compressed, Pipeline([quantize]), calibration)
    return (*score(compressed, held_out), seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=100, help="held-out videos for MAE/OBO")
    parser.add_argument("--seed", type=int, default=5000, help="their generator seed")
    parser.add_argument("--steps", type=int, nargs="+", default=[50, 150, 300])
    parser.add_argument("--data-dir", type=Path, default=Path("runs/benchmarks"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # deprecation notices of torch.ao and TorchScript
    torch.set_num_threads(1)  # recovery runs on one thread anyway; counting alike
    held_out = videos(
        args.data_dir / f"videos-{args.videos}-seed{args.seed}", args.videos, args.seed
    )
    calibration_source = videos(args.data_dir / "videos-16-seed1000", 16, 1000)
    model, source = load_model("repnet-s")
    model.eval()
    cfg = model.config
    calibration = calibration_clips(calibration_source, 8, cfg.num_frames, cfg.image_size)
    base_mae, base_obo = score(model, held_out)
    columns = [None, 0, *args.steps]
    names = ["raw", "BN re-estimated", *(f"{n} steps" for n in args.steps)]
    lines = [
        *header("Recovery by distillation: the case study's setups on repnet-s"),
        "",
        f"{__doc__.split(chr(10) + chr(10))[1]}".replace("\n", " "),
        "",
        f"Weights: {source}. MAE / OBO on {args.videos} held-out synthetic videos (seed "
        f"{args.seed}; shape, motion, colours and period drawn per video), multi-stride "
        f"counting. Uncompressed model: MAE {base_mae:.3f} / OBO {base_obo:.3f}. Recovery: "
        f"{FinetuneStep()} defaults but steps (synthetic clips, batch 8, one thread); wall time "
        "in brackets. Target: P and P->T within +0.05 MAE and +0.10 OBO of the uncompressed "
        f"model (MAE <= {base_mae + 0.05:.3f}, OBO <= {base_obo + 0.10:.3f}).",
        "",
        "| setup | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for label, order in SETUPS:
        cells = []
        for steps in columns:
            mae, obo, seconds = measure(order, steps, model, calibration, held_out)
            timing = f" ({seconds:.0f} s)" if steps else ""
            cells.append(f"{mae:.3f} / {obo:.3f}{timing}")
            print(f"{label} {names[columns.index(steps)]}: {cells[-1]}", file=sys.stderr)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
