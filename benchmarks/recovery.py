"""Recovery by distillation: the case study's setups on repnet-s, raw and recovered.

Each setup (P, T, P->T, P->T->Q of `CaseStudyRecipe`) is counted on held-out synthetic videos
raw, after batch-norm re-estimation only (`finetune: {steps: 0}`), and after recovery at several
step counts (each its own run: the schedule follows the planned steps), with the wall time of
the recovery. In P->T->Q the finetune step stands before quantization, as the pipeline
requires; its int8 layers are chosen by SQNR on the recovered model. Its quantize step then
recovers through int8 (`recovery`: distillation through fake quantization before converting,
the same steps in every recovered column, their time included); the post-training int8 row
quantizes the recovered model as it is.

    .venv/bin/python benchmarks/recovery.py --out benchmarks/recovery.md
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import sys
import time
import warnings
from pathlib import Path

import torch
from report import header

from autocompress.compression import FinetuneStep, Pipeline, apply, apply_pipeline
from autocompress.data.quva import QuvaDataset
from autocompress.data.synthetic import HELD_OUT_STYLE
from autocompress.models.repnet.adapter import calibration_clips, generated_videos
from autocompress.models.repnet.network import PRESETS
from autocompress.models.repnet.quva_accuracy import evaluate_counts
from autocompress.models.repnet.recipe import CaseStudyRecipe
from autocompress.models.repnet.weights import load_model
from autocompress.study.config import DataConfig

# Recovery through int8 in the P->T->Q row: a short run at a low rate (the model is recovered
# already; the fake quantizers start at post-training int8's ranges), batch norms kept.
INT8_RECOVERY = FinetuneStep(steps=40, learning_rate=3e-5, bn_batches=0)
SETUPS = (
    ("P", "P", None),
    ("T", "T", None),
    ("P->T", "PT", None),
    ("P->T->Q, post-training int8", "PTQ", None),
    ("P->T->Q", "PTQ", INT8_RECOVERY),
)


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
    int8_recovery: FinetuneStep | None,
    model: torch.nn.Module,
    calibration: torch.Tensor,
    held_out: QuvaDataset,
    recovered: dict,
) -> tuple[float, float, float]:
    """(MAE, OBO, seconds of recovery) of one setup; ``recovery_steps`` None: raw (and no
    recovery through int8 either). ``recovered`` keeps each float model and its seconds by
    (float order, steps): the P->T->Q rows quantize P->T's."""
    key = (order.replace("Q", ""), recovery_steps)
    if key not in recovered:
        steps = recipe_steps(model, key[0], calibration)
        if recovery_steps is not None:
            steps.append(FinetuneStep(steps=recovery_steps))
        started = time.perf_counter()
        compressed, _ = apply_pipeline(model, Pipeline(steps), calibration)
        recovered[key] = (compressed, time.perf_counter() - started)
    compressed, seconds = recovered[key]
    seconds = seconds if recovery_steps is not None else 0.0
    if "Q" in order:
        quantize = CaseStudyRecipe().quantize(compressed, calibration)
        if recovery_steps is not None and int8_recovery is not None:
            quantize = dataclasses.replace(quantize, recovery=int8_recovery)
        started = time.perf_counter()
        # The uncompressed model is the teacher, as in one pipeline of all the steps.
        quantized = apply(copy.deepcopy(compressed), quantize, calibration, teacher=model).model
        seconds += time.perf_counter() - started if quantize.recovery is not None else 0.0
        return (*score(quantized, held_out), seconds)
    return (*score(compressed, held_out), seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[50, 150, 300])
    parser.add_argument(
        "--setups", nargs="+", default=[label for label, _, _ in SETUPS], help="rows to measure"
    )
    parser.add_argument("--data-dir", type=Path, default=Path("runs/benchmarks/recovery"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # deprecation notices of torch.ao and TorchScript
    torch.set_num_threads(1)  # recovery runs on one thread anyway; counting alike
    # The default study's own sets: calibration from its selection videos, scores on its test
    # set, which the search never sees.
    defaults = DataConfig()
    size = PRESETS["repnet-s"].image_size
    held_out = generated_videos(
        args.data_dir, defaults.test_videos, defaults.test_seed, size, HELD_OUT_STYLE
    )
    calibration_source = generated_videos(
        args.data_dir, defaults.synthetic_videos, defaults.synthetic_seed, size
    )
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
        f"Weights: {source}. MAE / OBO on the default study's test set ({len(held_out)} "
        f"synthetic videos of seed {defaults.test_seed} in the held-out look: "
        f"{HELD_OUT_STYLE.size[0]}x{HELD_OUT_STYLE.size[1]} at {HELD_OUT_STYLE.fps} fps, "
        "photo backgrounds in half of them; never seen by a search), multi-stride counting;"
        " int8 calibrated on the selection videos. "
        f"Uncompressed model: MAE {base_mae:.3f} / OBO {base_obo:.3f}. Recovery: "
        f"{FinetuneStep()} defaults but steps (synthetic clips, batch 8, one thread); wall time "
        f"in brackets. Recovery through int8 in P->T->Q: {INT8_RECOVERY}. Target: P and P->T "
        "within +0.05 MAE and +0.10 OBO of the uncompressed "
        f"model (MAE <= {base_mae + 0.05:.3f}, OBO <= {base_obo + 0.10:.3f}).",
        "",
        "| setup | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    recovered: dict = {}
    for label, order, int8_recovery in (s for s in SETUPS if s[0] in args.setups):
        cells = []
        for steps in columns:
            mae, obo, seconds = measure(
                order, steps, int8_recovery, model, calibration, held_out, recovered
            )
            timing = f" ({seconds:.0f} s)" if steps else ""
            cells.append(f"{mae:.3f} / {obo:.3f}{timing}")
            print(f"{label} {names[columns.index(steps)]}: {cells[-1]}", file=sys.stderr)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
