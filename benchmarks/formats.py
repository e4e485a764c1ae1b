"""Latency a deployment would see: the case study's setups in each artifact format, side by side.

For each preset and setup (baseline, P, T, Q, P->T, P->T->Q of the hand-tuned recipe) the model is
serialized in every format and run as each runtime runs it: the eager Python module (for
reference), the TorchScript file as loaded (what every speed-up before this table divided by),
the same file prepared as a CPU deployment prepares it (frozen, and optimised for inference
unless it is mostly int8: the baseline now), the ``torch.export`` program, and optionally an
AOTInductor package (compiled for this CPU with freezing). Quantized setups are made by each
int8 backend: torch.ao FX (whose graphs torch.export refuses) and PT2E (a torch.export graph of
quantize/dequantize pairs, traced for TorchScript, fused into int8 kernels by AOTInductor).
Every runner is warmed up, then all are timed in turns, round after round, so drift of a shared
machine hits them alike; a latency is the median over all rounds.

    .venv/bin/python benchmarks/formats.py --out benchmarks/formats.md --aoti repnet-s repnet
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from case_study import videos
from report import header, time_in_turns, weights_line

from autocompress.backends import ARTIFACT_FORMATS
from autocompress.data.quva import QuvaDataset
from autocompress.evaluators.size import MIB
from autocompress.models.repnet.adapter import calibration_clips
from autocompress.models.repnet.quva_accuracy import evaluate_counts
from autocompress.models.repnet.recipe import CaseStudyRecipe, apply_recipe
from autocompress.models.repnet.weights import load_model

# (label, the recipe's order, int8 backend): torch.ao FX (TorchScript only) or PT2E (.pt2).
SETUPS = (
    ("baseline", "", "fx"),
    ("P", "P", "fx"),
    ("T", "T", "fx"),
    ("Q (FX)", "Q", "fx"),
    ("Q (PT2E)", "Q", "pt2e"),
    ("P->T", "PT", "fx"),
    ("P->T->Q (FX)", "PTQ", "fx"),
    ("P->T->Q (PT2E)", "PTQ", "pt2e"),
)
REFERENCE = "TorchScript, prepared"
# Timed rounds and runs per round: the full model takes seconds a run on one thread.
ROUNDS = {"repnet-s": (5, 5), "repnet": (3, 1)}
CALIBRATION_CLIPS = {"repnet-s": 8, "repnet": 2}  # as benchmarks/case_study.py
SCORED_PRESETS = ("repnet-s",)  # the full preset has random weights here: no MAE/OBO


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
    builders = {"torch.export program": lambda: _built(exported, model, example)}
    if aoti:
        builders["AOTInductor package"] = lambda: _built(ARTIFACT_FORMATS["aoti"], model, example)
    for name, build in builders.items():
        started = time.perf_counter()
        try:
            runner, size = build()
            found[name] = (runner, size, time.perf_counter() - started)
        except Exception as error:
            found[name] = f"fails: {(str(error).splitlines() or [type(error).__name__])[0][:90]}"
    return found


def _built(fmt, model, example) -> tuple[Callable, int]:
    data = fmt.serialize(model, example)
    return fmt.load(data), len(data)


def measure_preset(
    preset: str, args: argparse.Namespace, held_out: QuvaDataset, calibration_source: QuvaDataset
) -> list[str]:
    model, _ = load_model(preset)
    model.eval()
    cfg = model.config
    calibration = calibration_clips(
        calibration_source, CALIBRATION_CLIPS[preset], cfg.num_frames, cfg.image_size
    )
    example = calibration[:1]
    cells: dict[tuple[str, str], tuple[Callable, int | None, float] | str] = {}
    scores: dict[str, str] = {}
    for label, order, backend in SETUPS:
        recipe = CaseStudyRecipe(quantize_backend=backend)
        compressed, pipeline, _ = apply_recipe(model, order, calibration, recipe)
        for name, found in runners(compressed, example, preset in args.aoti).items():
            cells[(label, name)] = found
        int8 = sum(len(getattr(step, "layers", ())) for step in pipeline.steps)
        scores[label] = f"{int8} |" if "Q" in order else " |"
        if preset in SCORED_PRESETS:
            report = evaluate_counts(
                compressed, held_out, progress=False, image_size=cfg.image_size
            )
            scores[label] += f" {report.mae:.3f} | {report.obo:.3f} |"
        print(f"{preset} {label}: built {scores[label]}", file=sys.stderr)
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
        "| setup | int8 layers |"
        + (" MAE | OBO |" if preset in SCORED_PRESETS else "")
        + " ".join(f" {name} |" for name in formats),
        "|---|---:|" + ("---:|---:|" if preset in SCORED_PRESETS else "") + "---:|" * len(formats),
    ]
    for label, _, _ in SETUPS:
        row = []
        for name in formats:
            found = cells[(label, name)]
            if isinstance(found, str):
                row.append(found)
                continue
            median, spread = times[(label, name)]
            size = "" if found[1] is None else f", {found[1] / MIB:.2f} MiB"
            row.append(f"{median:.1f} ({spread:.1f}), x{base / median:.2f}{size}")
        lines.append(f"| {label} | {scores[label]} " + " | ".join(row) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["repnet-s", "repnet"])
    parser.add_argument("--warmup", type=int, default=8)
    parser.add_argument(
        "--aoti", nargs="*", default=[], metavar="PRESET", help="also AOTInductor for these"
    )
    parser.add_argument("--videos", type=int, default=100, help="held-out videos for MAE/OBO")
    parser.add_argument("--seed", type=int, default=5000, help="their generator seed")
    parser.add_argument("--data-dir", type=Path, default=Path("runs/benchmarks"))
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
        "turns. Setups: `CaseStudyRecipe` in the given order, calibrated on "
        f"{CALIBRATION_CLIPS} clips of the default study's videos (seed 1000); int8 layers: "
        "those whose SQNR under that backend is at least 30 dB. MAE/OBO: the Python model "
        f"counting {args.videos} held-out synthetic videos (seed {args.seed}).",
    ]
    held_out = videos(
        args.data_dir / f"videos-{args.videos}-seed{args.seed}", args.videos, args.seed
    )
    # Calibration clips come from the default study's videos, never from the scored ones.
    calibration_source = videos(args.data_dir / "videos-16-seed1000", 16, 1000)
    for preset in args.presets:
        lines += measure_preset(preset, args, held_out, calibration_source)
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
