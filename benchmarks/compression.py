"""Baseline, P, T, Q and P->T->Q on the full RepNet preset, measured side by side in one run.

The case study's settings: prune 35% of the encoder and 64% of the temporal conv; Tucker rank
0.1 for the temporal conv, EVBMF ranks for the encoder convs, SVD for the head Linears; static
int8 of the layers whose SQNR clears a threshold. Writes a Markdown table (``--out``).

    .venv/bin/python benchmarks/compression.py --out benchmarks/compression.md
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import torch
from torch import nn

from autocompress.analysis.sqnr import layer_sqnr, layers_above
from autocompress.compression import (
    Pipeline,
    PruneStep,
    QuantizeStep,
    StepReport,
    TensorizeStep,
    apply_pipeline,
    decomposable_layers,
    prunable_groups,
    quantizable_layers,
)
from autocompress.compression.calibration import random_clips
from autocompress.evaluators.latency import TimingProtocol, measure
from autocompress.evaluators.size import artifact_size_mib
from autocompress.models.repnet import build_repnet


def prune_step(model: nn.Module) -> PruneStep:
    ratios = {g: 0.35 for g in prunable_groups(model) if g.startswith("encoder")}
    return PruneStep({**ratios, "temporal_conv": 0.64})


def tensorize_step(model: nn.Module, linear_rank: float) -> TensorizeStep:
    ranks: dict[str, int | float | str] = {}
    for name in decomposable_layers(model):
        module = model.get_submodule(name)
        if name.startswith("encoder"):
            ranks[name] = "vbmf"
        elif name.startswith("temporal_conv"):
            ranks[name] = 0.1
        elif isinstance(module, nn.Linear):
            ranks[name] = linear_rank
    return TensorizeStep(ranks)


def quantize_step(model: nn.Module, calibration: torch.Tensor, min_db: float) -> QuantizeStep:
    return QuantizeStep(layers_above(layer_sqnr(model, calibration), min_db))


def _summary(reports: list[StepReport]) -> str:
    parts = []
    for report in reports:
        if report.technique == "tensorize":
            vbmf = [layer.rank for layer in report.layers if layer.name.startswith("encoder")]
            flat = [r for rank in vbmf for r in rank]
            parts.append(f"EVBMF encoder ranks {min(flat)}..{max(flat)}" if flat else "")
        if report.technique == "quantize":
            parts.append(f"{sum(layer.quantized for layer in report.layers)} layers int8")
    return ", ".join(p for p in parts if p)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="repnet")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calibration-clips", type=int, default=2)
    parser.add_argument("--min-sqnr-db", type=float, default=30.0)
    parser.add_argument("--linear-rank", type=float, default=0.25)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")  # deprecation notices of torch.ao / TorchScript
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    baseline = build_repnet(args.preset).eval()
    calibration = random_clips(baseline, args.calibration_clips)
    example = calibration[:1]
    models: dict[str, tuple[nn.Module, str, float]] = {"baseline": (baseline, "", 0.0)}

    def run(label: str, model: nn.Module, *steps) -> tuple[nn.Module, list[StepReport], float]:
        start = time.perf_counter()
        result, reports = apply_pipeline(model, Pipeline(list(steps)), calibration)
        seconds = time.perf_counter() - start
        print(f"{label}: built in {seconds:.0f} s", file=sys.stderr)
        return result, reports, seconds

    def sqnr_guided(model: nn.Module) -> QuantizeStep:
        return QuantizeStep(layers_above(layer_sqnr(model, calibration), args.min_sqnr_db))

    pruned, p_reports, p_seconds = run("P", baseline, prune_step(baseline))
    models["P (prune)"] = (pruned, "", p_seconds)
    model, reports, seconds = run("T", baseline, tensorize_step(baseline, args.linear_rank))
    models["T (tensorize)"] = (model, _summary(reports), seconds)
    start = time.perf_counter()
    model, reports, _ = run("Q", baseline, sqnr_guided(baseline))
    models["Q (SQNR-guided int8)"] = (model, _summary(reports), time.perf_counter() - start)
    model, reports, seconds = run("Q-all", baseline, QuantizeStep(quantizable_layers(baseline)))
    models["Q-all (every layer int8, reference)"] = (model, _summary(reports), seconds)
    # P->T->Q: each step sized on the model the previous steps left (ranks, SQNR).
    start = time.perf_counter()
    pt, t_reports, _ = run("P->T", pruned, tensorize_step(pruned, args.linear_rank))
    model, q_reports, _ = run("P->T->Q", pt, sqnr_guided(pt))
    models["P->T->Q"] = (
        model,
        _summary([*p_reports, *t_reports, *q_reports]),
        p_seconds + time.perf_counter() - start,
    )

    protocol = TimingProtocol(warmup=args.warmup, runs=args.runs, threads=args.threads)
    load = os.getloadavg()[0]
    rows = []
    for label, (model, summary, seconds) in models.items():
        size = artifact_size_mib(model, example)
        scripted = torch.jit.script(model)
        timing = measure(lambda scripted=scripted: scripted(example), protocol)
        rows.append((label, size, timing, summary, seconds))
        print(f"{label}: {size:.2f} MiB, {timing.median_ms:.0f} ms", file=sys.stderr)

    base_size, base_timing = rows[0][1], rows[0][2]
    lines = [
        f"# Compression techniques on RepNet (preset {args.preset}, random weights)",
        "",
        f"Command: `.venv/bin/python benchmarks/compression.py {' '.join(argv or sys.argv[1:])}`",
        "",
        f"Machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores "
        f"(shared with other jobs; 1-minute load {load:.1f} when timing started), "
        f"{platform.system()}, torch {torch.__version__}; "
        f"date {datetime.date.today().isoformat()}.",
        f"Latency: TorchScript artifact, batch 1 ({' x '.join(map(str, example.shape))}), "
        f"{args.threads} thread(s), {args.warmup} warm-up + {args.runs} timed runs (few, "
        "because a forward of the full model takes seconds here), median and IQR. Size: bytes "
        "of the saved TorchScript artifact in MiB. Calibration and SQNR: "
        f"{args.calibration_clips} random clips in [-1, 1]; int8 layers: SQNR >= "
        f"{args.min_sqnr_db:g} dB. Linear SVD rank: {args.linear_rank:g} of the channels.",
        "",
        "| model | size MiB | size ratio | median ms | IQR ms | latency ratio | build s | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for label, size, timing, summary, seconds in rows:
        lines.append(
            f"| {label} | {size:.2f} | {size / base_size:.3f} | {timing.median_ms:.0f} | "
            f"{timing.spread_ms:.0f} | {timing.median_ms / base_timing.median_ms:.3f} | "
            f"{seconds:.0f} | {summary} |"
        )
    lines += [
        "",
        "Random weights have no low-rank structure, so EVBMF keeps rank 1 in every encoder conv: "
        "T and P->T->Q are faster and smaller here than they would be with trained weights, and "
        "no accuracy is measured. `build s` is the wall time to apply the steps (SQNR analysis "
        "included for Q); decompositions come from the joblib cache when it is warm (a cold "
        "cache adds a few minutes for T: EVBMF's SVDs and the Conv3d's Tucker-2).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
