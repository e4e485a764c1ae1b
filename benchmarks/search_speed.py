"""Wall time of a search on the default study, and each trial's split between compression,
building the artifact, timing it and counting videos.

    .venv/bin/python benchmarks/search_speed.py --trials 200 --out benchmarks/search_speed.md

Runs a fresh study in a temporary run directory (the evaluation videos are generated there
once, before the clock starts) and writes a markdown table with the command, machine and date.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import torch
from optuna.trial import TrialState

from autocompress.models.registry import adapter_for
from autocompress.study.config import model_settings
from autocompress.study.lifecycle import load_existing_study
from autocompress.study.pareto import feasible_front
from autocompress.study.runner import run_search
from autocompress.study.study_files import resolve_study_config

PHASES = ("compression", "artifact", "latency", "accuracy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--study", default="default")
    parser.add_argument("--budget-ms", type=float)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    config = resolve_study_config(
        args.study, None, {"trials": args.trials, "budget_ms": args.budget_ms}
    )
    config = dataclasses.replace(config, name=f"bench-{args.study}")
    with tempfile.TemporaryDirectory() as folder:
        run_dir = Path(folder)
        # videos generated before the clock starts
        adapter_for(model_settings(config, run_dir)).calibration(1)
        load = os.getloadavg()[0]
        started = time.perf_counter()
        stopped_early = False
        try:
            study = run_search(config, None, run_dir, progress=True).study
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: report the trials finished so far
            stopped_early = True
            study = load_existing_study(config.name, None, run_dir)
        wall = time.perf_counter() - started

    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    failed = [t for t in trials if t.state == TrialState.FAIL]
    scored = [t for t in done if t.user_attrs.get("mae") is not None]
    rows = []
    for phase in PHASES:
        values = [t.user_attrs["seconds"][phase] for t in done]
        rows.append(f"| {phase} | {statistics.median(values):.2f} | {sum(values):.0f} |")
    measured = sum(sum(t.user_attrs["seconds"].values()) for t in done)
    rows.append(
        f"| rest of the wall time (sampling, storage, skipped trials) | | {wall - measured:.0f} |"
    )
    per_trial = [(t.datetime_complete - t.datetime_start).total_seconds() for t in done]
    recovering = [t for t in done if "recovery" in t.user_attrs["seconds"]]
    recovery_s = sum(t.user_attrs["seconds"]["recovery"] for t in recovering)
    screened = sum("screened" in t.user_attrs for t in done)
    predicted = sum("predicted_latency_ms" in t.user_attrs for t in trials)

    command = " ".join(["python", *sys.argv])
    stop_note = f"Stopped before the requested {args.trials} trials. " if stopped_early else ""
    text = f"""# Search speed: `{args.study}` study

Command: `{command}`

Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {date.today()};
1-minute load average {load:.1f} when the search started (other jobs may have shared the CPU).
Study: preset {config.preset}, {config.data.synthetic_videos} synthetic evaluation videos,
latency {config.latency.warmup} warm-ups + {config.latency.runs} runs on {config.latency.threads}
thread(s), sampler {config.sampler}, budget {config.budget_ms or "none"}.

{stop_note}**{len(done) + len(failed)} trials in {wall / 60:.1f} minutes**
({len(done)} complete, {len(failed)} failed,
{len(scored)} scored for accuracy, {len(feasible_front(study))} on the feasible Pareto front);
median wall time per trial {statistics.median(per_trial):.1f} s;
{len(recovering)} trials climbed the recovery ladder above rung 0, its rungs took
{recovery_s / 60:.1f} min of it (rung 0, batch norms re-estimated, counts as compression);
{screened} trials stopped by screening (rounds of {config.data.screen_videos} videos),
{predicted} were skipped on a latency prediction.

| phase | median s per trial | total s |
|---|---:|---:|
{chr(10).join(rows)}
"""
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
