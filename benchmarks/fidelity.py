"""Fidelity against the count errors: which selection-time signal ranks a study's trials like
their error increase on the test set?

    .venv/bin/python benchmarks/fidelity.py --run-dir runs/fidelity --out benchmarks/fidelity.md

Input: a finished study (``--run-dir`` and ``--study``; work on a copy, the run directory gains
the generated test and extra videos and a cache). Every COMPLETE trial of a pipeline no earlier
trial had is rebuilt from its stored pipeline and measured with four selection-time signals:
RepNet's fidelity (``autocompress.models.repnet.fidelity``: per video, the divergence of its
per-frame period and periodicity outputs from the uncompressed model's at every counting
stride, no labels) on the selection videos, the same on more videos generated in their look,
and the selection videos' MAE and OBO increase over the uncompressed model. One counting pass
of a video set (``CountingTask`` with the uncompressed model as ``reference``) gives each
video's fidelity and count errors together. Against them: the PAIRED test-set increase (48
videos of another seed and look, each counted by both models; the compressed model's error
less the uncompressed one's), for MAE and OBO; that pass gives the test videos' fidelity too.
Every mean comes with the half-width of its 95 % Student-t interval over videos. Then the
Spearman rank correlation over trials of each signal with the test-set increases, and a
calibration of a fidelity cap: which caps on the selection videos' fidelity keep every trial
under them within the test-set margins.

Measurements are kept per trial in a cache in the run directory (raw per-video values, the
seconds each took, the machine's load), named after the settings and the fidelity's definition,
so a run stopped by ``--max-minutes`` resumes where it stopped and a changed definition reads
no old values; the table is written from the cache, complete or not.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import logging
import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from report import commit_line, header, weights_line
from scipy import stats

from autocompress.compression import Pipeline
from autocompress.models.repnet.adapter import FIDELITY_CAP, CountingTask, generated_videos
from autocompress.study.context import build_context, compress
from autocompress.study.lifecycle import load_existing_study
from autocompress.study.pareto import pipeline_summary
from autocompress.study.record import TrialRecord
from autocompress.study.storage import stored_config
from autocompress.study.study_files import resolve_study_config

NEAR_MAE = 0.10  # "near the baseline": a paired test MAE increase at most this
# The test-set margins a trial must keep (RepNetAdapter.default_test_increase), paired means.
MARGINS = {"test_mae": 0.03, "test_obo": 0.05}
SIGNALS = {  # the selection-time signals, by the key their per-trial value is kept under
    "fid_selection": "fidelity on the {selection} selection videos",
    "fid_many": "fidelity on {many} more videos",
    "sel_mae": "selection MAE increase",
    "sel_obo": "selection OBO increase",
}
AFTER = {"fid_test": "fidelity on the {test} test videos (after the search)"}
TARGETS = {"test_mae": "test MAE increase", "test_obo": "test OBO increase"}
SETS = ("selection", "many", "test")  # the video sets every trial is counted on


def mean_ci(values: np.ndarray) -> tuple[float, float]:
    """The mean and the half-width of its 95 % t-interval."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        return float(values.mean()), math.nan
    width = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return float(values.mean()), float(width)


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


class Cache:
    """Per-trial raw measurements in a JSON file named after the settings they depend on."""

    def __init__(self, run_dir: Path, settings: dict) -> None:
        key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
        self.path = run_dir / f"fidelity-cache-{key}.json"
        self.data = json.loads(self.path.read_text()) if self.path.is_file() else {}
        self.data.setdefault("settings", settings)
        self.data.setdefault("trials", {})

    def put(self, number: int, values: dict) -> None:
        self.data["trials"][str(number)] = values
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data))
        tmp.replace(self.path)

    def get(self, number: int) -> dict | None:
        return self.data["trials"].get(str(number))


def distinct_trials(study) -> list:
    """COMPLETE trials, each pipeline once (its first trial), by number."""
    seen, trials = set(), []
    for trial in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        record = TrialRecord.of(trial)
        if trial.state.name != "COMPLETE" or record.pipeline is None:
            continue
        key = json.dumps(record.pipeline, sort_keys=True)
        if key not in seen:
            seen.add(key)
            trials.append(trial)
    return trials


def measure(trial, context, tasks: dict, device: str) -> dict:
    """One trial rebuilt from its pipeline, counted on every video set (fidelity, MAE and OBO
    per video), with its seconds."""
    record = TrialRecord.of(trial)
    pipeline = Pipeline.from_dict(record.pipeline)
    model, compress_s = timed(
        lambda: compress(context.model, pipeline, context.calibration, device)[0]
    )
    values = {
        "pipeline": record.pipeline,
        "stored_errors": record.errors,
        "baseline": record.baseline,
        "load": os.getloadavg()[0],
        "measured": datetime.datetime.now().isoformat(timespec="seconds"),
        "seconds": {"compress": compress_s},
    }
    for name, task in tasks.items():
        errors, seconds = timed(lambda t=task: t.item_errors(model, 0, t.item_count()))
        values[f"{name}_errors"] = np.asarray(errors).tolist()
        values["seconds"][name] = seconds
    return values


def per_trial_signals(measured: dict, baseline: dict) -> dict:
    """Each trial's signals and targets: (mean, half-width over videos) each. The columns of
    a set's errors: fidelity, MAE, OBO (CountingTask.objectives)."""
    rows = {}
    base_sel = np.asarray(baseline["selection_errors"])
    base_test = np.asarray(baseline["test_errors"])
    for number, values in measured.items():
        sets = {name: np.asarray(values[f"{name}_errors"]) for name in SETS}
        selection, test = sets["selection"], sets["test"]
        rows[number] = {
            **{f"fid_{name}": mean_ci(errors[:, 0]) for name, errors in sets.items()},
            "mae": mean_ci(selection[:, 1]),
            "obo": mean_ci(selection[:, 2]),
            "sel_mae": mean_ci(selection[:, 1] - base_sel[:, 1]),
            "sel_obo": mean_ci(selection[:, 2] - base_sel[:, 2]),
            "test_mae": mean_ci(test[:, 1] - base_test[:, 1]),
            "test_obo": mean_ci(test[:, 2] - base_test[:, 2]),
        }
    return rows


def spearman(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[float, float, float]:
    """Spearman's rho and a 95 % bootstrap interval over trials (2,000 resamples)."""
    rho = float(stats.spearmanr(x, y).statistic)
    draws = []
    for _ in range(2000):
        pick = rng.integers(0, len(x), len(x))
        if np.ptp(x[pick]) > 0 and np.ptp(y[pick]) > 0:
            draws.append(stats.spearmanr(x[pick], y[pick]).statistic)
    low, high = np.nanpercentile(draws, [2.5, 97.5]) if draws else (math.nan, math.nan)
    return rho, float(low), float(high)


def cell(pair: tuple[float, float], digits: int = 3) -> str:
    mean, width = pair
    if math.isnan(width) or width == 0:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f}±{width:.{digits}f}"


def ratio(width: float, means: np.ndarray) -> float:
    """``width`` over the interquartile range of ``means`` (nan where they have none)."""
    if len(means) < 4:
        return math.nan
    q1, q3 = np.percentile(means, [25, 75])
    return width / (q3 - q1) if q3 > q1 else math.inf


def summary_lines(rows: dict, measured: dict, labels: dict, seconds_of: dict) -> tuple:
    """The table of ``labels``' signals and the targets (intervals, spread, cost, rank
    correlations) and the correlations."""
    numbers = sorted(rows)
    near = [n for n in numbers if rows[n]["test_mae"][0] <= NEAR_MAE]
    compressed = [n for n in numbers if not measured[n]["baseline"]]
    rng = np.random.default_rng(0)
    correlations, spreads, seconds_by = {}, {}, {}
    lines = [
        "| signal | median ± (95 %) | ± ÷ spread between trials, all / near | median seconds "
        "a trial | rho with test ΔMAE, all | rho with test ΔOBO, all | rho with test ΔMAE, "
        f"near ({len(near)}) | rho with test ΔOBO, near |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in {**labels, **TARGETS}.items():
        means = np.array([rows[n][key][0] for n in numbers])
        near_means = np.array([rows[n][key][0] for n in near])
        widths = np.array([rows[n][key][1] for n in compressed])
        width = float(np.nanmedian(widths))
        spread = [ratio(width, means), ratio(width, near_means)]
        cells = []
        for subset in (numbers, near):
            x = np.array([rows[n][key][0] for n in subset])
            for target in TARGETS:
                y = np.array([rows[n][target][0] for n in subset])
                if key in TARGETS or len(subset) < 4:
                    cells.append("-")
                    continue
                rho = spearman(x, y, rng)
                correlations[key, target, subset is near] = rho
                cells.append(f"{rho[0]:+.2f} [{rho[1]:+.2f}, {rho[2]:+.2f}]")
        seconds = np.median([measured[n]["seconds"][seconds_of[key]] for n in compressed])
        spreads[key], seconds_by[key] = spread, float(seconds)
        lines.append(
            f"| {label} | ±{width:.3f} | {spread[0]:.2f} / {spread[1]:.2f} | {seconds:.1f} | "
            + " | ".join(cells)
            + " |"
        )
    return lines, correlations, near, spreads, seconds_by


def rank_misses(rows: dict, key: str, target: str, count: int = 3) -> list[tuple[int, float]]:
    """The trials whose rank by ``key`` is furthest from their rank by ``target``."""
    numbers = sorted(rows)
    by_key = stats.rankdata([rows[n][key][0] for n in numbers])
    by_target = stats.rankdata([rows[n][target][0] for n in numbers])
    gaps = sorted(zip(numbers, by_key - by_target, strict=True), key=lambda item: -abs(item[1]))
    return [(n, float(g)) for n, g in gaps[:count]]


def rho_difference(
    rows: dict, subset: list, better: str, other: str, target: str, rng: np.random.Generator
) -> tuple[float, float, float]:
    """rho(``better``) - rho(``other``) with ``target`` over ``subset``, and a 95 % paired
    bootstrap interval (the same 2,000 resamples of the trials for both)."""
    x, z, y = (np.array([rows[n][k][0] for n in subset]) for k in (better, other, target))

    def difference(pick: np.ndarray) -> float:
        return (
            stats.spearmanr(x[pick], y[pick]).statistic
            - stats.spearmanr(z[pick], y[pick]).statistic
        )

    everything = np.arange(len(subset))
    draws = []
    for _ in range(2000):
        pick = rng.integers(0, len(subset), len(subset))
        if min(np.ptp(x[pick]), np.ptp(z[pick]), np.ptp(y[pick])) > 0:
            draws.append(difference(pick))
    low, high = np.nanpercentile(draws, [2.5, 97.5])
    return float(difference(everything)), float(low), float(high)


def exceeds(row: dict) -> bool:
    """Whether a trial's paired test increase passes a margin."""
    return any(row[target][0] > margin for target, margin in MARGINS.items())


def cap_calibration(rows: dict, compressed: list) -> list[tuple[float, list, list]]:
    """For each candidate cap (a compressed trial's fidelity on the selection videos, rising):
    the cap, the compressed trials at or under it, and those of them past a test margin."""
    caps = sorted({rows[n]["fid_selection"][0] for n in compressed})
    table = []
    for cap in caps:
        under = [n for n in compressed if rows[n]["fid_selection"][0] <= cap]
        table.append((cap, under, [n for n in under if exceeds(rows[n])]))
    return table


def calibration_lines(rows: dict, calibration: list) -> list[str]:
    """The cap calibration as a table: one row per candidate cap."""
    lines = [
        "| cap (fidelity, selection videos) | trial(s) at the cap: test ΔMAE / ΔOBO | trials "
        "at or under | of them past a margin |",
        "|---:|---|---:|---:|",
    ]
    for cap, under, bad in calibration:
        at = ", ".join(
            f"{n}: {rows[n]['test_mae'][0]:+.3f} / {rows[n]['test_obo'][0]:+.3f}"
            + (" (past)" if n in bad else "")
            for n in under
            if rows[n]["fid_selection"][0] == cap
        )
        lines.append(f"| {cap:.4f} | {at} | {len(under)} | {len(bad)} |")
    return lines


def cap_sentence(rows: dict, calibration: list, compressed: list) -> str:
    """The largest caps that let no trial, and at most one, past a margin; the default cap's."""

    def largest(allowed: int) -> str:
        safe = [entry for entry in calibration if len(entry[2]) <= allowed]  # a prefix
        if not safe:
            return "none: the trial of the lowest fidelity already passes a margin"
        cap, under, bad = safe[-1]
        said = f"{cap:.4f} ({len(under)} of the {len(compressed)} compressed trials at or under it"
        if len(safe) == len(calibration):
            return said + ")"
        next_cap, _, next_bad = calibration[len(safe)]
        passing = ", ".join(
            f"trial {n} (test ΔMAE {rows[n]['test_mae'][0]:+.3f}, ΔOBO "
            f"{rows[n]['test_obo'][0]:+.3f})"
            for n in next_bad
            if n not in bad
        )
        return f"{said}; the next cap up, {next_cap:.4f}, lets {passing} past)"

    default = [n for n in compressed if rows[n]["fid_selection"][0] <= FIDELITY_CAP]
    default_bad = [n for n in default if exceeds(rows[n])]
    widths = {t: float(np.median([rows[n][t][1] for n in compressed])) for t in MARGINS}
    return (
        f"- Cap calibration (a trial passes a margin when its paired test ΔMAE is over "
        f"+{MARGINS['test_mae']} or its ΔOBO over +{MARGINS['test_obo']}; caps on the mean "
        "fidelity over the selection videos, each candidate a trial's own value): the largest "
        f"cap under which no trial passes a margin is {largest(0)}; the largest under which at "
        f"most one does is {largest(1)}. The adapter's default cap, {FIDELITY_CAP}, lets "
        f"{len(default)} compressed trials through, {len(default_bad)} of them past a margin"
        + (f" (trials {', '.join(map(str, default_bad))})" if default_bad else "")
        + ". The margins apply to the paired means; their median 95 % half-widths over the "
        "compressed trials: "
        + ", ".join(
            f"test Δ{target[5:].upper()} ±{widths[target]:.3f} (margin +{margin})"
            for target, margin in MARGINS.items()
        )
        + (
            ": wider than the margins, so whether one trial keeps a margin is not settled by "
            "these videos."
            if all(widths[t] > m for t, m in MARGINS.items())
            else "."
        )
    )


def reading(
    correlations: dict, rows: dict, labels: dict, near: list, spreads: dict, seconds: dict
) -> list[str]:
    """What the numbers say, in sentences built from them."""

    def rho(key: str, target: str, near_only: bool) -> str:
        value, low, high = correlations[key, target, near_only]
        return f"rho {value:+.2f} [{low:+.2f}, {high:+.2f}]"

    rng = np.random.default_rng(1)
    lines: list[str] = []
    shown = {True: 0, False: 0}
    scopes = (
        (False, sorted(rows), f"all {len(rows)} trials"),
        (True, near, f"the {len(near)} trials within +{NEAR_MAE} test MAE"),
    )
    for near_only, subset, scope in scopes:
        if ("fid_many", "test_mae", near_only) not in correlations:
            continue
        for target, what in (("test_mae", "MAE"), ("test_obo", "OBO")):
            best = max(labels, key=lambda k: correlations[k, target, near_only][0])
            verdicts = []
            for fid in ("fid_many", "fid_selection"):
                diff, low, high = rho_difference(rows, subset, fid, "sel_mae", target, rng)
                shown[low > 0] += 1
                said = "better" if low > 0 else "WORSE" if high < 0 else "neither shown"
                verdicts.append(f"{labels[fid]} {diff:+.2f} [{low:+.2f}, {high:+.2f}], {said}")
            lines.append(
                f"- Over {scope}, against the paired test {what} increase: "
                f"{labels['fid_many']} {rho('fid_many', target, near_only)}, "
                f"{labels['fid_selection']} {rho('fid_selection', target, near_only)}, "
                f"selection MAE increase {rho('sel_mae', target, near_only)}, selection OBO "
                f"increase {rho('sel_obo', target, near_only)}; highest: {labels[best]}. Rho "
                "less the selection MAE increase's (paired bootstrap): " + "; ".join(verdicts) + "."
            )
    lines.insert(
        0,
        "- The hypothesis (fidelity ranks the trials like their test-set increase better than "
        f"the selection MAE increase does) is shown at 95 % in {shown[True]} of the "
        f"{sum(shown.values())} comparisons below"
        + (
            " and NOT shown in the others: there the rho differences' intervals include 0."
            if shown[False]
            else "."
        ),
    )
    lines.append(
        "- Interval over the spread between trials (smaller tells trials apart better), all "
        "trials / near the baseline: "
        + ", ".join(f"{labels[k]} {spreads[k][0]:.2f} / {spreads[k][1]:.2f}" for k in labels)
        + f"; the test set's own MAE increase {spreads['test_mae'][0]:.2f} / "
        f"{spreads['test_mae'][1]:.2f}. Near the baseline the interval is as wide as the "
        "spread between the trials or wider (>= 1) for "
        + (", ".join(labels[k] for k in labels if spreads[k][1] >= 1) or "no signal")
        + ". Median seconds a trial: "
        + ", ".join(f"{labels[k]} {seconds[k]:.1f}" for k in labels)
        + " (the selection counts give MAE and OBO together; the test set "
        f"{seconds['test_mae']:.1f})."
    )
    misses = rank_misses(rows, "fid_many", "test_mae")
    lines.append(
        f"- Ranked furthest from the test MAE increase (rank by the signal less rank by test "
        f"ΔMAE, of {len(rows)}; positive: the signal says worse than the test set): by "
        f"{labels['fid_many']}, "
        + ", ".join(f"trial {n} ({g:+g})" for n, g in misses)
        + "; by the selection MAE increase, "
        + ", ".join(f"trial {n} ({g:+g})" for n, g in rank_misses(rows, "sel_mae", "test_mae"))
        + "."
    )
    known = [(near_only, scope) for near_only, _, scope in scopes]
    known = [m for m in known if ("fid_test", "test_mae", m[0]) in correlations]
    if known:
        lines.append(
            "- Fidelity on the test videos themselves (unknown at selection; what the choice "
            "of videos costs the ranking): "
            + "; ".join(
                f"over {scope}, {rho('fid_test', 'test_mae', near_only)} with the test MAE "
                f"increase, {rho('fid_test', 'test_obo', near_only)} with the OBO increase"
                for near_only, scope in known
            )
            + "."
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, required=True, help="a COPY of a study's run dir")
    parser.add_argument("--study", default="default")
    parser.add_argument("--many-videos", type=int, default=48, help="more selection-look videos")
    parser.add_argument("--many-seed", type=int, default=3000)
    parser.add_argument("--max-minutes", type=float, default=15, help="then stop measuring")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # deprecation notices of torch.ao and TorchScript
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)
    started = time.monotonic()

    study = load_existing_study(args.study, None, args.run_dir)
    config = resolve_study_config(args.study, None, {}, stored_config(study))
    context = build_context(config, args.run_dir, study)
    adapter = context.adapter
    selection = context.evaluator.task  # with the uncompressed model as its reference
    many = generated_videos(args.run_dir, args.many_videos, args.many_seed, selection.image_size)
    tasks = {
        "selection": selection,
        "many": CountingTask(
            many,
            selection.image_size,
            None,
            selection.counting,
            selection.device,
            selection.reference,
        ),
        "test": context.test_task(),  # generated on first use
    }
    strides = selection.counting.strides

    settings = {  # a changed fidelity's name or counting's strides reads no old values
        "study": args.study,
        "many": [args.many_videos, args.many_seed],
        "fidelity": "per video: periodicity-weighted period KL + periodicity KL (3a63ad2)",
        "strides": list(strides),
    }
    cache = Cache(args.run_dir, settings)
    trials = distinct_trials(study)
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    for trial in trials:
        if cache.get(trial.number) is not None:
            continue
        if time.monotonic() - started > args.max_minutes * 60:
            print(f"stopped after {args.max_minutes:g} minutes; rerun to go on", file=sys.stderr)
            break
        values = measure(trial, context, tasks, config.accuracy_device)
        cache.put(trial.number, values)
        fid = np.mean(np.asarray(values["selection_errors"])[:, 0])
        print(f"trial {trial.number}: fidelity {fid:.4f}, {values['seconds']}", file=sys.stderr)

    measured = {t.number: cache.get(t.number) for t in trials if cache.get(t.number)}
    baseline = next((v for v in measured.values() if v["baseline"]), None)
    if baseline is None:
        print("the baseline is not measured yet", file=sys.stderr)
        return
    rows = per_trial_signals(measured, baseline)
    counts = {name: task.item_count() for name, task in tasks.items()}
    labels = {k: v.format(**counts) for k, v in SIGNALS.items()}
    after = {k: v.format(**counts) for k, v in AFTER.items()}
    seconds_of = {
        **{f"fid_{name}": name for name in SETS},
        "sel_mae": "selection",
        "sel_obo": "selection",
        "test_mae": "test",
        "test_obo": "test",
    }
    summary, correlations, near, spreads, seconds = summary_lines(
        rows, measured, {**labels, **after}, seconds_of
    )
    compressed = [n for n in sorted(rows) if not measured[n]["baseline"]]
    calibration = cap_calibration(rows, compressed)
    loads = [v["load"] for v in measured.values()]
    dates = sorted(v["measured"] for v in measured.values())
    stored = [n for n, v in measured.items() if v["stored_errors"].get("mae") is not None]
    differ = [
        n
        for n in stored
        if abs(rows[n]["mae"][0] - measured[n]["stored_errors"]["mae"]) > 1e-9
        or abs(rows[n]["obo"][0] - measured[n]["stored_errors"]["obo"]) > 1e-9
    ]
    differences = ", ".join(
        f"trial {n}: stored MAE {measured[n]['stored_errors']['mae']:.3f} / OBO "
        f"{measured[n]['stored_errors']['obo']:.3f}, rebuilt {rows[n]['mae'][0]:.3f} / "
        f"{rows[n]['obo'][0]:.3f}"
        for n in sorted(differ)
    )
    complete_note = (
        f"all {len(trials)}"
        if len(measured) == len(trials)
        else f"**{len(measured)} of {len(trials)} (incomplete: rerun the command)**"
    )
    lines = [
        *header("Fidelity against the count errors: ranking a study's trials"),
        "",
        f"Code: {commit_line()}. Study {args.study!r} in `{args.run_dir}` (repnet-s, weights "
        f"{weights_line('repnet-s', None)}): {len(complete)} COMPLETE trials, {len(trials)} "
        f"distinct pipelines, {complete_note} measured here, each rebuilt from its stored "
        f"pipeline, {dates[0]} to {dates[-1]}; 1-minute load {min(loads):.1f} to "
        f"{max(loads):.1f} while they were measured (another developer's jobs shared the 2 "
        "cores; everything here ran at nice 19 on one thread, so the seconds are inflated "
        "alike). The rebuilt models count the selection videos exactly as the study stored "
        f"in {len(stored) - len(differ)} of the {len(stored)} trials that stored a count"
        + (
            f"; not in {differences} (compression and counting ran on one thread here; "
            "float sums, batch-norm statistics and int8 ranges among them, differ with the "
            "thread count, and a count may round the other way)."
            if differ
            else "."
        ),
        "",
        "Fidelity (`autocompress.models.repnet.fidelity`, `CountingTask` with the "
        "uncompressed model as `reference`): per frame, KL(uncompressed || compressed) of the "
        "period-length softmax weighted by the uncompressed periodicity probability, plus the "
        "KL of the periodicity Bernoulli; per video, the mean over its frames at each counting "
        f"stride {tuple(strides)}, averaged over the strides; 0 for the uncompressed model. "
        "It comes from the forward passes that count the video. Selection videos: the "
        f"{counts['selection']} the study selected on (seed {adapter.synthetic_seed}). More "
        f"videos: {counts['many']} generated in the selection look with seed "
        f"{args.many_seed}. Test set: {counts['test']} videos (seed {adapter.test_seed}, "
        "held-out look), never seen by the search. ΔMAE and ΔOBO are paired: per video, the "
        "compressed model's error less the uncompressed model's, averaged. ± is the "
        "half-width of a 95 % t-interval over videos.",
        "",
        "## Per trial",
        "",
        f"| trial | pipeline | fidelity, {counts['selection']} selection videos | fidelity, "
        f"{counts['many']} more videos | fidelity, {counts['test']} test videos | selection "
        "MAE | selection OBO | selection ΔMAE | selection ΔOBO | test ΔMAE | test ΔOBO |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for number in sorted(rows):
        row = rows[number]
        lines.append(
            f"| {number} | {pipeline_summary(measured[number]['pipeline'])} | "
            + " | ".join(cell(row[f"fid_{name}"], 4) for name in SETS)
            + " | "
            + " | ".join(
                cell(row[k]) for k in ("mae", "obo", "sel_mae", "sel_obo", "test_mae", "test_obo")
            )
            + " |"
        )
    trial_minutes = sum(sum(v["seconds"].values()) for v in measured.values()) / 60
    lines += [
        "",
        "## Each signal: its interval, its cost, how it ranks the trials",
        "",
        "Median ± over the compressed trials; spread between trials: the interquartile range "
        f"of the trials' means (all, and the {len(near)} near the baseline: test ΔMAE <= "
        f"{NEAR_MAE}, a subset chosen on the outcome, where the caps decide). Seconds: a "
        "trial's own cost: counting a video set with the compressed model, which gives its "
        "fidelity, MAE and OBO at once (the uncompressed model's outputs, paid once per run, "
        "fall in the first trial measured, the baseline's on a fresh cache). Spearman's rho "
        "over the trials with a 95 % bootstrap interval (2,000 resamples of the trials).",
        "",
        *summary,
        "",
        "## Calibrating a fidelity cap",
        "",
        "Each compressed trial's mean fidelity on the selection videos, taken as a cap: the "
        "compressed trials at or under it, and those of them whose paired test increase "
        f"passes a margin (ΔMAE over +{MARGINS['test_mae']} or ΔOBO over "
        f"+{MARGINS['test_obo']}, the means; `RepNetAdapter.default_test_increase`).",
        "",
        *calibration_lines(rows, calibration),
        "",
        "## Reading",
        "",
        cap_sentence(rows, calibration, compressed),
        *reading(correlations, rows, labels, near, spreads, seconds),
        f"- Wall time of this run: {(time.monotonic() - started) / 60:.1f} minutes; "
        f"measuring the trials took {trial_minutes:.1f} minutes in all (over the runs the "
        "cache joined).",
    ]
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
