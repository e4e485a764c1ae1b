"""Samplers and space layouts compared on the default study: hypervolume of the feasible
front against trials.

    .venv/bin/python benchmarks/samplers.py --trials 100 --seeds 0 1 2 3 4 \
        --arms tpe:compact random:compact --out benchmarks/samplers.md

An arm is a sampler on a layout of the space (``SAMPLER:LAYOUT``); ``tpe/N`` is the study's TPE
modelling after N draws of its own (``tpe`` is ``tpe/10``). Every (arm, seed) pair is its own
study (named ``SAMPLER-LAYOUT-seedN``) in one storage under ``--run-dir``, run to ``--trials``
trials with recovery off (distillation trials would add minutes each and measure recovery, not
the sampler). The studies advance in turns, ``--step`` trials each, so that a change of the
machine's load (latency is an objective) hits every arm alike; each turn resumes its study, and
a resumed study's sampler draws from a fresh seed (as a second worker's would), so a seed fixes
a study's first turn only. Running again resumes; ``--report-only`` writes the table and plot
from what is stored.

The hypervolume uses one fixed reference point for every study: the uncompressed model's latency
(median over all studies' baseline trials) and size, and MAE = OBO = 1 (what counting nothing
scores). It is divided by the reference's latency x size, so 1.0 would be a model of zero
latency, zero size and perfect counts.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import os
import signal
import statistics
import time
from pathlib import Path

import numpy as np
import optuna
from optuna.trial import TrialState
from report import commit_line, header, weights_line

from autocompress.study.record import baseline_trial
from autocompress.study.runner import run_search
from autocompress.study.samplers import SAMPLERS, tpe
from autocompress.study.storage import make_storage
from autocompress.study.study_files import resolve_study_config

CHECKPOINTS = (10, 25, 50, 100, 200)
LOADS = "loads.txt"  # under --run-dir: the 1-minute load after each turn


def study_name(arm: str, seed: int) -> str:
    return f"{arm.replace('/', '').replace(':', '-')}-seed{seed}"


def register_startup_arms(arms: list[str]) -> None:
    """Add the ``tpe/N`` samplers the arms name to the study's registry."""
    for arm in arms:
        sampler = arm.split(":")[0]
        if sampler.startswith("tpe/") and sampler not in SAMPLERS:
            SAMPLERS.register(sampler, functools.partial(tpe, n_startup_trials=int(sampler[4:])))


def run_studies(
    arms: list[str], seeds: list[int], trials: int, step: int, weights: str | None, run_dir: Path
) -> None:
    """Every study ``step`` trials further in turn, until all have ``trials``."""
    for target in range(min(step, trials), trials + step, step):
        target = min(target, trials)
        for seed in seeds:
            for arm in arms:
                sampler, layout = arm.split(":")
                overrides = {"trials": target, "sampler": sampler, "seed": seed, "weights": weights}
                config = resolve_study_config(study_name(arm, seed), None, overrides)
                config = dataclasses.replace(
                    config,
                    space=dataclasses.replace(config.space, layout=layout),
                    recovery=dataclasses.replace(config.recovery, trials=0),
                )
                run_search(config, None, run_dir, progress=False)
        load = os.getloadavg()[0]
        with (run_dir / LOADS).open("a") as file:
            file.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {target} {load:.2f}\n")
        print(f"{time.strftime('%H:%M:%S')} every study at {target} trials, load {load:.1f}")
        if target == trials:
            return


def hypervolume_history(study: optuna.Study, reference: np.ndarray) -> np.ndarray:
    """Normalised hypervolume after each trial (index k: the first k+1 trials)."""
    figure = optuna.visualization.plot_hypervolume_history(study, reference_point=reference)
    numbers, values = figure.data[0].x, figure.data[0].y
    last = max(t.number for t in study.get_trials(deepcopy=False))
    history = np.zeros(last + 1)
    for number, value in zip(numbers, values, strict=True):
        history[number:] = value
    return history / (reference[0] * reference[1])


def load_studies(arms, seeds, run_dir) -> dict[tuple[str, int], optuna.Study]:
    storage = make_storage(None, run_dir)
    names = {s.study_name for s in optuna.get_all_study_summaries(storage)}
    return {
        (arm, seed): optuna.load_study(study_name=study_name(arm, seed), storage=storage)
        for arm in arms
        for seed in seeds
        if study_name(arm, seed) in names
    }


def reference_point(studies: dict) -> np.ndarray:
    baselines = [baseline_trial(study) for study in studies.values()]
    baselines = [b for b in baselines if b is not None]
    latency = statistics.median(b.user_attrs["latency_ms"] for b in baselines)
    return np.array([latency, baselines[0].user_attrs["size_mib"], 1.0, 1.0])


def plot(histories: dict, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for index, (sampler, runs) in enumerate(histories.items()):
        length = min(len(run) for run in runs)
        stacked = np.stack([run[:length] for run in runs])
        trials = np.arange(1, length + 1)
        color = f"C{index}"
        ax.plot(trials, stacked.mean(axis=0), color=color, label=f"{sampler} ({len(runs)} seeds)")
        ax.fill_between(trials, stacked.min(axis=0), stacked.max(axis=0), color=color, alpha=0.15)
    ax.set_xlabel("trials (the first is the uncompressed baseline)")
    ax.set_ylabel("normalised hypervolume")
    ax.set_title("default study: mean over seeds, band from min to max")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)


def load_line(run_dir: Path) -> str:
    """The 1-minute load over the turns stored under ``run_dir``."""
    path = run_dir / LOADS
    rows = [line.split() for line in path.read_text().splitlines()] if path.exists() else []
    if not rows:
        return "no turns recorded"
    loads = [float(row[2]) for row in rows]
    return (
        f"{len(rows)} recorded, {rows[0][0]} to {rows[-1][0]}; 1-minute load after a turn: "
        f"median {statistics.median(loads):.1f}, {min(loads):.1f}-{max(loads):.1f}"
    )


def report(studies: dict, trials: int, weights: str | None, png: Path, run_dir: Path) -> str:
    reference = reference_point(studies)
    histories: dict[str, list[np.ndarray]] = {}
    for (sampler, _), study in studies.items():
        histories.setdefault(sampler, []).append(hypervolume_history(study, reference))
    plot(histories, png)
    checkpoints = [c for c in CHECKPOINTS if c < trials] + [trials]
    lines = [
        *header("Samplers on the default study: hypervolume against trials"),
        "",
        f"Code: {commit_line()}. Turns: {load_line(run_dir)}.",
        "",
        "Each arm (a sampler on a layout of the space) ran the default study "
        "(`studies/default.yaml`: repnet-s, 16 synthetic videos, objectives latency, size, MAE, "
        f"OBO) to {trials} trials per seed (recovery off), with weights "
        f"{weights_line('repnet-s', weights)}. Reference "
        f"point: latency {reference[0]:.2f} ms (the baseline's, median over studies), size "
        f"{reference[1]:.3f} MiB, MAE 1, OBO 1; hypervolume divided by latency x size. "
        "Mean and (min-max) over seeds. Plot: "
        f"[{png.name}]({png.name}).",
        "",
        "| arm | seeds | " + " | ".join(f"after {c}" for c in checkpoints) + " |",
        "|---|---:|" + "---:|" * len(checkpoints),
    ]
    for sampler, runs in histories.items():
        cells = []
        for checkpoint in checkpoints:
            values = [run[checkpoint - 1] for run in runs if len(run) >= checkpoint]
            if values:
                cells.append(f"{np.mean(values):.4f} ({min(values):.4f}-{max(values):.4f})")
            else:
                cells.append("-")
        lines.append(f"| {sampler} | {len(runs)} | " + " | ".join(cells) + " |")
    lines += _ratio_rows(histories, checkpoints)
    counts = {
        name: sum(t.state == TrialState.COMPLETE for t in s.get_trials(deepcopy=False))
        for name, s in studies.items()
    }
    lines += [
        "",
        f"Complete trials per study: {min(counts.values())}-{max(counts.values())} "
        "(failed trials, pipelines that could not be applied, count towards the total).",
    ]
    return "\n".join(lines) + "\n"


def _ratio_rows(histories: dict, checkpoints: list[int]) -> list[str]:
    """Each arm's mean over the first random arm's, where there is one."""
    reference = next((arm for arm in histories if arm.startswith("random:")), None)
    if reference is None:
        return []

    def mean_at(arm: str, checkpoint: int) -> float | None:
        values = [run[checkpoint - 1] for run in histories[arm] if len(run) >= checkpoint]
        return float(np.mean(values)) if values else None

    rows = ["", f"Mean over seeds relative to {reference}:", ""]
    rows += ["| arm | " + " | ".join(f"after {c}" for c in checkpoints) + " |"]
    rows += ["|---|" + "---:|" * len(checkpoints)]
    for arm in histories:
        cells = []
        for checkpoint in checkpoints:
            mean, base = mean_at(arm, checkpoint), mean_at(reference, checkpoint)
            cells.append(f"{mean / base:.2f}x" if mean is not None and base else "-")
        rows.append(f"| {arm} | " + " | ".join(cells) + " |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", nargs="+", default=["tpe:compact", "random:compact"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--step", type=int, default=5, help="trials per study per turn")
    parser.add_argument("--weights", help="repnet-s weights (default: the shipped ones)")
    parser.add_argument("--run-dir", type=Path, default=Path("runs/benchmarks/samplers"))
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    optuna.logging.set_verbosity(optuna.logging.ERROR)

    register_startup_arms(args.arms)
    if not args.report_only:
        # Ctrl-C or SIGTERM: report what is stored.
        with contextlib.suppress(KeyboardInterrupt):
            run_studies(args.arms, args.seeds, args.trials, args.step, args.weights, args.run_dir)
    studies = load_studies(args.arms, args.seeds, args.run_dir)
    text = report(studies, args.trials, args.weights, args.out.with_suffix(".png"), args.run_dir)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
