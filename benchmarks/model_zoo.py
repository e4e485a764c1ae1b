"""The model zoo of tests/test_zoo.py searched longer: per model, how many trials ran valid and
why the others failed, the best speed-up at <= 1 % disagreement with the uncompressed model,
and which techniques the valid trials applied and which never made it (with the reasons).

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

from autocompress.compression import Pipeline
from autocompress.study.record import TrialRecord
from tests.zoo_models import ZOO, ZooRun, search_zoo_model

MAX_DISAGREEMENT = 0.01


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
    if run.result is None:
        return "-"
    good = [
        TrialRecord.of(t)
        for t in run.result.study.trials
        if t.state == TrialState.COMPLETE
        and (TrialRecord.of(t).errors.get("disagreement") or 0.0) <= MAX_DISAGREEMENT
    ]
    best = max((r for r in good if r.speedup), key=lambda r: r.speedup, default=None)
    return f"{best.speedup:.2f}x" if best else "-"


def _left_out(run: ZooRun) -> str:
    """What the dry run left out of the space, and the int8 backend the study chose."""
    if run.result is None:
        return "-"
    attrs = run.result.study.user_attrs
    backend = json.loads(attrs.get("quantize_backend", "null")) or "none"
    items = json.loads(attrs.get("left_out", "[]"))
    shown = "; ".join(f"{i['step']} {i['name']}: {i['reason'][:70]}" for i in items[:3])
    more = f" (+{len(items) - 3} more)" if len(items) > 3 else ""
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
    parser.add_argument("models", nargs="*", default=list(ZOO))
    args = parser.parse_args()
    settings = _nested(args.setting)
    lines = [
        *header("Model zoo: any PyTorch model, searched"),
        f"Commit {_commit()}; {args.trials} trials per model (random sampler, no warm start, "
        f"quick latency protocol); settings {settings or 'default'}. Task: the share of "
        "16 samples whose prediction disagrees with the uncompressed model's.",
        "",
        "| model | valid trials | best speed-up at <= 1 % disagreement | techniques applied "
        "(valid trials) | techniques in failed trials | int8 backend, left out of the space |",
        "|---|---|---|---|---|---|",
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
            lines.append(
                f"| {name} | {run.valid}/{run.total} | {_best_speedup(run)} | {shown[0]} | "
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
