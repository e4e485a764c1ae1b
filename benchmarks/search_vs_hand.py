"""The mission's command, run as several fresh studies, against the hand-tuned recipe.

    .venv/bin/python benchmarks/search_vs_hand.py --trials 200 --budget-ms 900 \
        --wall-minutes 30 --seeds 0 1 2 --run-dir runs/benchmarks/mission \
        --out benchmarks/search_vs_hand.md

For each seed, runs ``autocompress search --trials N --budget-ms B --seed S`` on a fresh
default study, as a user would, stopped (Ctrl-C: the study keeps what it finished) once
``--wall-minutes`` have passed. Then picks the point ``export --trial fastest`` would ship (the
fastest front points counted on the test set the search never saw, paired with the
uncompressed model, and kept only within the study's test caps) and times it in turns with the
baseline. One run is one draw: the table gives each seed, then the median and the worst. The
case study's prune -> tensorize -> quantize recipe, raw and recovered at the ladder's top rung,
is measured once beside the first seed's baseline. The target: the exported point at least
3.5x faster than the baseline (median over seeds; the worst at least 3.0x), within +0.03 MAE
and +0.05 OBO of the uncompressed model on the test set, paired, each search in at most 30
minutes.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from report import commit_line, header, weights_line

from autocompress.models.repnet.adapter import SELECTION_STYLE, TEST_STYLE, generated_videos
from autocompress.models.repnet.network import PRESETS
from autocompress.models.repnet.recipe import apply_recipe
from autocompress.study.config import StudyConfig, cap_text
from autocompress.study.context import SearchContext, build_context, compress
from autocompress.study.export import pick_trial
from autocompress.study.ladder import Ladder
from autocompress.study.lifecycle import load_existing_study
from autocompress.study.pareto import paired_cell, paired_difference, pipeline_summary
from autocompress.study.record import TrialRecord, baseline_trial
from autocompress.study.retime import timed_pipeline
from autocompress.study.study_files import resolve_study_config
from autocompress.study.test_set import score_test_set, test_score

TARGET_MEDIAN, TARGET_WORST, MAE_MARGIN, OBO_MARGIN, WALL_TARGET_MIN = 3.5, 3.0, 0.03, 0.05, 30
PHASES = ("compression", "artifact", "latency", "accuracy", "recovery")


def run_search(args: argparse.Namespace, seed: int, run_dir: Path) -> tuple[float, float, float]:
    """The mission's command with ``--seed``; (wall seconds, load before, load after)."""
    command = [
        ".venv/bin/autocompress", "search", "--trials", str(args.trials),
        "--budget-ms", str(args.budget_ms), "--seed", str(seed), "--run-dir", str(run_dir),
        "--no-progress",
    ]  # fmt: skip
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    process = subprocess.Popen(command)
    try:
        process.wait(timeout=args.wall_minutes * 60 if args.wall_minutes else None)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)  # Ctrl-C: it saves and stops
        process.wait()
    return time.monotonic() - started, load_before, os.getloadavg()[0]


@dataclass(frozen=True)
class Draw:
    """One fresh study of the mission's command, and the point its export ships."""

    seed: int
    wall_s: float
    loads: tuple[float, float]
    trials: int
    phases: dict[str, float]  # seconds summed over the trials
    pick_s: float  # counting candidates on the test set and timing them again
    number: int
    pipeline: str
    speedup: float
    latency_ms: float
    baseline_ms: float
    paired: dict[str, tuple[float, float | None]]  # test ΔMAE, ΔOBO with half-widths
    cells: dict[str, str]

    @property
    def within(self) -> bool:
        margins = {"mae": MAE_MARGIN, "obo": OBO_MARGIN}
        return all(self.paired[name][0] <= margin for name, margin in margins.items())


def shared_videos(args: argparse.Namespace) -> list[Path]:
    """The default study's selection and test videos, generated once (the same bytes every
    study would generate: same seeds, same looks), so no search pays for generating them."""
    config = resolve_study_config("default", None, {}, None).data
    folder, size = args.run_dir / "videos", PRESETS["repnet-s"].image_size
    return [
        generated_videos(folder, videos, seed, size, style).root
        for videos, seed, style in (
            (config.synthetic_videos, config.synthetic_seed, SELECTION_STYLE),
            (config.test_videos, config.test_seed, TEST_STYLE),
        )
    ]


def draw(args: argparse.Namespace, seed: int, videos: list[Path]) -> tuple[Draw, SearchContext]:
    run_dir = args.run_dir / f"seed-{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    for folder in videos:
        if not (run_dir / folder.name).exists():
            (run_dir / folder.name).symlink_to(folder.resolve())
    wall_s, load_before, load_after = run_search(args, seed, run_dir)
    study = load_existing_study("default", None, run_dir)
    context = build_context(resolve_study_config("default", None, {}, None), run_dir, study)
    started = time.monotonic()
    number = pick_trial(study, "fastest", context)
    trial = study.trials[number]
    baseline = baseline_trial(study)
    reference, test = (test_score(study, context, t) for t in (baseline, trial))
    model, _ = compress(context.model, timed_pipeline(trial), context.calibration)
    evaluator = context.evaluator
    samplers = {
        "baseline": evaluator.baseline_sampler,
        "point": evaluator.sampler(evaluator.artifact(model)),
    }
    timings = evaluator.in_turns(samplers, evaluator.protocol.runs * args.rounds, args.rounds)
    pick_s = time.monotonic() - started
    finished = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    counted = [t for t in finished if not TrialRecord.of(t).surplus]
    phases = {
        phase: sum(TrialRecord.of(t).seconds.get(phase, 0.0) for t in counted) for phase in PHASES
    }
    names = ("mae", "obo")
    result = Draw(
        seed=seed,
        wall_s=wall_s,
        loads=(load_before, load_after),
        trials=len(counted),
        phases=phases,
        pick_s=pick_s,
        number=number,
        pipeline=pipeline_summary(TrialRecord.of(trial).pipeline),
        speedup=timings["baseline"].median_ms / timings["point"].median_ms,
        latency_ms=timings["point"].median_ms,
        baseline_ms=timings["baseline"].median_ms,
        paired={name: paired_difference(test, reference, name) for name in names},
        cells={name: paired_cell(test, reference, name) for name in names},
    )
    return result, context


def hand_rows(context: SearchContext, rounds: int) -> list[str]:
    """The case study's recipe, raw and recovered at the top rung, beside the baseline."""
    config = context.config
    raw, pipeline, _ = apply_recipe(context.model, "PTQ", context.calibration)
    top = max(config.recovery.rungs)
    recovered_pipeline = Ladder.of(pipeline, config.recovery).pipeline(top)
    recovered, _ = compress(
        context.model, recovered_pipeline, context.calibration, config.accuracy_device
    )
    evaluator, task = context.evaluator, context.test_task()
    models = {"hand-tuned P->T->Q": raw, f"hand-tuned, recovered {top} steps": recovered}
    samplers = {"baseline": evaluator.baseline_sampler}
    samplers |= {label: evaluator.sampler(evaluator.artifact(m)) for label, m in models.items()}
    timings = evaluator.in_turns(samplers, evaluator.protocol.runs * rounds, rounds)
    reference = score_test_set(task, context.model)
    rows = []
    for label, model in models.items():
        test = score_test_set(task, model)
        speedup = timings["baseline"].median_ms / timings[label].median_ms
        rows.append(
            f"| {label} | x{speedup:.2f} | {paired_cell(test, reference, 'mae')} | "
            f"{paired_cell(test, reference, 'obo')} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--budget-ms", type=float, default=900)
    parser.add_argument("--wall-minutes", type=float, default=WALL_TARGET_MIN)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--run-dir", type=Path, default=Path("runs/benchmarks/mission"))
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds in turns")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # deprecation notices of torch.ao and TorchScript

    draws, videos = [], shared_videos(args)
    for seed in args.seeds:
        found, context = draw(args, seed, videos)
        draws.append(found)
        write(args, draws, context.config, None)  # each draw kept as soon as it is measured
    write(args, draws, context.config, hand_rows(context, args.rounds))


def write(
    args: argparse.Namespace, draws: list[Draw], config: StudyConfig, hand: list[str] | None
) -> None:
    """The table of ``draws`` so far, and the recipe's rows once they are measured."""
    rows = [
        f"| {d.seed} | {d.wall_s / 60:.1f} | {d.loads[0]:.2f} / {d.loads[1]:.2f} | {d.trials} | "
        f"{d.number} | {d.baseline_ms:.2f} / {d.latency_ms:.2f} | x{d.speedup:.2f} | "
        f"{d.cells['mae']} | {d.cells['obo']} | {'yes' if d.within else 'no'} | {d.pipeline} |"
        for d in draws
    ]
    phase_rows = [
        f"| {d.seed} | "
        + " | ".join(f"{d.phases[p] / 60:.1f}" for p in PHASES)
        + f" | {d.pick_s / 60:.1f} |"
        for d in draws
    ]
    speedups = [d.speedup if d.within else 0.0 for d in draws]
    median, worst = statistics.median(speedups), min(speedups)
    in_time = all(d.trials >= args.trials and d.wall_s <= WALL_TARGET_MIN * 60 for d in draws)
    verdict = (
        f"**Median x{median:.2f} (target x{TARGET_MEDIAN:g}: "
        f"{'met' if median >= TARGET_MEDIAN else 'missed'}), worst x{worst:.2f} (target "
        f"x{TARGET_WORST:g}: {'met' if worst >= TARGET_WORST else 'missed'})** over "
        f"{len(draws)} fresh studies, each the point `export --trial fastest` ships, timed in "
        f"turns with the baseline (a point over the margins counts as x0); every search ran all "
        f"{args.trials} trials within {WALL_TARGET_MIN} minutes: {'yes' if in_time else 'no'}."
    )
    caps = ", ".join(f"{k} {cap_text(v)}" for k, v in config.max_error_increase.items())
    test_caps = ", ".join(f"{k} {cap_text(v)}" for k, v in config.max_test_increase.items())
    lines = [
        *header("The mission's command, fresh studies side by side, against the hand-tuned recipe"),
        "",
        f"Code: {commit_line()}. Nothing else ran on the machine during the searches "
        "(1-minute load at each search's start / end in the table).",
        "",
        f"`autocompress search --trials {args.trials} --budget-ms {args.budget_ms:g} --seed S` "
        f"on a fresh default study per seed (repnet-s, weights {weights_line('repnet-s', None)}; "
        f"objectives {', '.join(config.objectives)}; search caps {caps or 'none'}; "
        f"{config.data.synthetic_videos} selection videos; the recovery ladder at its "
        f"defaults), stopped after {args.wall_minutes:g} minutes of wall time if not done. "
        f"The point shipped is `export --trial fastest`'s: front points counted fastest first "
        f"on the {config.data.test_videos} test videos the search never saw, paired with the "
        f"uncompressed model video by video, kept within the test caps ({test_caps}: the mean "
        "paired difference at most the cap and its 95 % interval narrower than it), the "
        "fastest few timed again. ΔMAE and ΔOBO: the paired test-set differences ± the "
        f"half-width of their 95 % t-interval. Latencies timed in turns ({args.rounds} rounds "
        "of the study's runs); a recovered point is timed without its finetune step (it "
        "changes weights, not the graph).",
        "",
        "| seed | search minutes | load start / end | trials | exported trial | baseline / "
        "point ms | speed-up | test ΔMAE | test ΔOBO | within +0.03 / +0.05 | pipeline |",
        "|---:|---:|---|---:|---:|---|---:|---:|---:|---|---|",
        *rows,
        "",
        verdict,
        "",
        "What each phase cost (minutes, summed over the trials; the pick: counting candidates "
        "on the test set and timing them again):",
        "",
        "| seed | " + " | ".join(PHASES) + " | pick |",
        "|---:|" + "---:|" * (len(PHASES) + 1),
        *phase_rows,
    ]
    if hand is not None:
        lines += [
            "",
            "The case study's recipe, against the last seed's baseline, in turns:",
            "",
            "| model | speed-up | test ΔMAE | test ΔOBO |",
            "|---|---:|---:|---:|",
            *hand,
        ]
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
