"""A search on the full-size RepNet under a latency budget: how many trials are feasible, and
the fastest and smallest feasible pipelines.

    .venv/bin/python benchmarks/full_size_budget.py --trials 30 --budget-ms 900 \
        --out benchmarks/full_size_budget.md

Runs (or resumes) the ``repnet-budget`` study in ``--run-dir``, so an interrupted run loses
nothing: run it again, or with ``--report-only`` to write the table from the trials so far.
No real weights exist here, so the model has random weights and only latency and size are
measured.
"""

from __future__ import annotations

import argparse
import signal
import statistics
from pathlib import Path

import optuna
from optuna.trial import TrialState
from report import header

from autocompress.backends import ARTIFACT_FORMATS
from autocompress.study.feasibility import Feasibility
from autocompress.study.lifecycle import load_existing_study
from autocompress.study.pareto import feasible_front, pipeline_summary
from autocompress.study.record import baseline_trial
from autocompress.study.runner import run_search
from autocompress.study.storage import stored_config
from autocompress.study.study_files import resolve_study_config, study_config_from_dict


def _row(label: str, trial: optuna.trial.FrozenTrial, base: optuna.trial.FrozenTrial) -> str:
    attrs, base_attrs = trial.user_attrs, base.user_attrs
    return (
        f"| {label} | {trial.number} | {attrs['latency_ms']:.0f} | "
        f"x{base_attrs['latency_ms'] / attrs['latency_ms']:.1f} | {attrs['size_mib']:.1f} | "
        f"{attrs['size_mib'] / base_attrs['size_mib']:.3f} | "
        f"{pipeline_summary(attrs['pipeline'])} |"
    )


def report(study: optuna.Study, budget_ms: float, trials_wanted: int) -> str:
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    failed = [t for t in trials if t.state == TrialState.FAIL and "fail_reason" in t.user_attrs]
    is_feasible = Feasibility.of(study)
    feasible = [t for t in done if is_feasible(t)]
    base = baseline_trial(study)
    if base is None:
        raise SystemExit("the baseline trial has not finished yet: run the search first")
    front = feasible_front(study)
    seconds = [(t.datetime_complete - t.datetime_start).total_seconds() for t in done]
    config = study_config_from_dict(stored_config(study))
    artifact = ARTIFACT_FORMATS[config.artifact]
    warmup = max(config.latency.warmup, artifact.settle_runs)
    lines = [
        *header(f"Full-size RepNet under a {budget_ms:g} ms budget"),
        "",
        "Study `repnet-budget` (`studies/repnet-budget.yaml`): preset `repnet`, **random "
        "weights** (the authors' weights cannot be downloaded here), so only latency and size "
        f"are objectives and no accuracy is measured. Latency: the {config.artifact} artifact, "
        "loaded back and prepared as its runtime prepares it, at batch 1 (1 x 3 x 64 x 112 x "
        f"112), {config.latency.threads} thread, {warmup} warm-ups + {config.latency.runs} "
        "timed runs, median. Sampler TPE, seed 0.",
        "",
        f"**{len(done) + len(failed)} of {trials_wanted} trials finished** "
        f"({len(failed)} failed), **{len(feasible)} feasible** (at or under {budget_ms:g} ms), "
        f"{len(front)} on the feasible front; median {statistics.median(seconds):.0f} s per "
        "trial.",
        "",
        "| model | trial | latency ms | speed-up | size MiB | size ratio | pipeline |",
        "|---|---:|---:|---:|---:|---:|---|",
        _row("baseline (uncompressed)", base, base),
    ]
    if feasible:
        fastest = min(feasible, key=lambda t: t.user_attrs["latency_ms"])
        smallest = min(feasible, key=lambda t: t.user_attrs["size_mib"])
        lines += [_row("fastest feasible", fastest, base)]
        lines += [_row("smallest feasible", smallest, base)]
        lines += [_row("on the front", t, base) for t in front if t not in (fastest, smallest)]
    else:
        lines.append("| no feasible trial | | | | | | |")
    failures = sorted({t.user_attrs["fail_reason"] for t in failed})
    if failures:
        lines += ["", "Failed trials' reasons: " + "; ".join(f"`{f}`" for f in failures)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--budget-ms", type=float, default=900.0)
    parser.add_argument("--run-dir", type=Path, default=Path("runs/benchmarks/full-size"))
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    overrides = {"trials": args.trials, "budget_ms": args.budget_ms}
    config = resolve_study_config("repnet-budget", None, overrides)
    if args.report_only:
        study = load_existing_study(config.name, None, args.run_dir)
    else:
        try:
            study = run_search(config, None, args.run_dir).study
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: report the trials finished so far
            study = load_existing_study(config.name, None, args.run_dir)
    text = report(study, args.budget_ms, args.trials)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
