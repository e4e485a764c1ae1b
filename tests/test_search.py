"""The search lifecycle on a tiny study: runs, resumes, survives kills and failures, respects
the budget, shares trials between workers, and exports exactly what a trial evaluated."""

import dataclasses
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import torch
import yaml
from optuna.trial import TrialState

from autocompress import load_artifact
from autocompress.cli import main
from autocompress.compression import Pipeline
from autocompress.data.synthetic import SynthStyle, generate_dataset
from autocompress.errors import UserError
from autocompress.spaces.config import SpaceConfig
from autocompress.study import climb, preflight
from autocompress.study.config import (
    DataConfig,
    LatencyConfig,
    RecoveryConfig,
    StudyConfig,
)
from autocompress.study.context import build_context, compress
from autocompress.study.export import export_trial
from autocompress.study.feasibility import Feasibility
from autocompress.study.lifecycle import load_existing_study, open_study
from autocompress.study.pareto import _dominates, feasible_front, format_front
from autocompress.study.runner import run_search
from autocompress.study.workers import counted_trials

TINY_STYLE = SynthStyle(size=(48, 40), frames=(40, 80), periods=(4.0, 12.0))


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    generate_dataset(folder, 2, seed=7, style=TINY_STYLE, overwrite=True)
    return folder


def tiny_config(videos: Path, name: str = "tiny", **changes) -> StudyConfig:
    values = {
        "name": name,
        "trials": 3,
        "sampler": "random",
        "objectives": ("latency", "size", "mae", "obo"),  # as the search resolves them
        "data": DataConfig(path=str(videos), calibration_clips=1, test_share=None),
        "latency": LatencyConfig(warmup=1, runs=2),
        "space": SpaceConfig(orders=("P",), prune_ratio=(0.1, 0.5)),
        "max_error_increase": {},  # no caps: two tiny videos decide nothing
        "recovery": RecoveryConfig(rungs=(), bn_batches=1),  # rung 0 only, on one batch
    } | changes
    return StudyConfig(**values)


@pytest.fixture(scope="module")
def finished_study(videos, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    config = tiny_config(videos)
    outcome = run_search(config, None, run_dir, progress=False)
    return config, run_dir, outcome.study


def _complete(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def test_study_runs_baseline_first_and_stores_everything(finished_study):
    _, _, study = finished_study
    trials = _complete(study)
    assert len(trials) == 3
    assert trials[0].user_attrs["baseline"] and trials[0].user_attrs["pipeline"] == {"steps": []}
    for trial in trials:
        attrs = trial.user_attrs
        assert attrs["latency_ms"] > 0 and attrs["size_mib"] > 0
        assert 0 <= attrs["obo"] <= 1 and attrs["mae"] >= 0
        assert set(attrs["seconds"]) == {"compression", "artifact", "latency", "accuracy"}
    # Pruning makes the artifact smaller than the baseline's.
    assert all(t.user_attrs["size_mib"] < trials[0].user_attrs["size_mib"] for t in trials[1:])


def test_resume_keeps_finished_trials_and_reaches_the_new_total(finished_study):
    config, run_dir, study = finished_study
    before = {t.number: t.values for t in _complete(study)}
    more = run_search(dataclasses.replace(config, trials=4), None, run_dir, progress=False)
    after = {t.number: t.values for t in _complete(more.study)}
    assert more.finished_here == 1
    assert {n: after[n] for n in before} == before
    assert len(after) == 4


def test_changed_definition_is_refused_on_resume(finished_study):
    config, run_dir, _ = finished_study
    changed = dataclasses.replace(config, space=SpaceConfig(orders=("T",)))
    with pytest.raises(UserError, match="other settings \\(space\\)"):
        open_study(changed, None, run_dir)


def test_a_new_budget_reads_every_measured_trial_again(videos, tmp_path, caplog, monkeypatch):
    """`make demo`, then `search --budget-ms 900`: the demo's trials are kept and read with
    the budget; a budget under them all makes them infeasible, a larger one feasible again."""
    monkeypatch.setattr(preflight, "MIN_BUDGET_SHARE", 0.0)  # let any budget through
    config = tiny_config(videos, "rebudget", trials=3)
    first = run_search(config, None, tmp_path, progress=False).study
    measured = {t.number: t.values for t in _complete(first)}
    tight = dataclasses.replace(config, trials=4, budget_ms=0.001)
    with caplog.at_level(logging.INFO, logger="autocompress"):
        study = run_search(tight, None, tmp_path, progress=False).study
    assert "budget_ms None -> 0.001" in caplog.text
    assert all(study.trials[n].values == values for n, values in measured.items())
    assert counted_trials(study.trials) == 4 and not feasible_front(study)
    loose = dataclasses.replace(config, trials=4, budget_ms=1e6)
    study = run_search(loose, None, tmp_path, progress=False).study
    front = feasible_front(study)
    assert front and {t.number for t in front} <= set(measured)  # the unscored one is not
    assert not Feasibility.of(study)(study.trials[3])  # measured over 0.001 ms: never counted


def test_pareto_front_is_non_dominated_and_feasible(finished_study):
    _, _, study = finished_study
    front = feasible_front(study)
    assert front and all(Feasibility.of(study)(t) for t in front)
    for a in front:
        assert not any(_dominates(tuple(b.values), tuple(a.values)) for b in _complete(study))
    table = format_front(study)
    assert "baseline (uncompressed)" in table and "1.00x" in table


def test_front_drops_dominated_trials():
    study = optuna.create_study(directions=["minimize", "minimize"])
    for values in ([1.0, 5.0], [2.0, 2.0], [3.0, 3.0], [5.0, 1.0]):
        study.add_trial(
            optuna.trial.create_trial(
                values=values,
                user_attrs={"latency_ms": values[0], "pipeline": {"steps": []}},
            )
        )
    assert [t.values for t in feasible_front(study)] == [[1.0, 5.0], [2.0, 2.0], [5.0, 1.0]]


def test_export_reproduces_pipeline_and_size(finished_study, tmp_path):
    config, run_dir, study = finished_study
    number = _complete(study)[1].number
    context = build_context(config, run_dir, study)
    result = export_trial(study, number, context, tmp_path)
    stored = json.loads(result.metrics_file.read_text())
    assert stored["pipeline"] == study.trials[number].user_attrs["pipeline"]
    assert result.measured["size_mib"] == study.trials[number].user_attrs["size_mib"]
    torchscript = result.artifacts["torchscript"]
    assert torchscript.stat().st_size == round(result.measured["size_mib"] * 2**20)
    assert result.artifacts["exported-program"].is_file()
    assert result.measured["mae"] == pytest.approx(study.trials[number].user_attrs["mae"])


def test_evaluate_counts_with_an_exported_artifact_as_the_trial_did(
    finished_study, videos, tmp_path, capsys
):
    config, run_dir, study = finished_study
    number = _complete(study)[1].number
    result = export_trial(study, number, build_context(config, run_dir, study), tmp_path)
    capsys.readouterr()
    artifact = str(result.artifacts["torchscript"])
    assert main(["evaluate", "--data", str(videos), "--model", artifact, "--json"]) == 0
    counted = json.loads(capsys.readouterr().out)
    assert counted["mae"] == pytest.approx(study.trials[number].user_attrs["mae"])
    assert counted["obo"] == pytest.approx(study.trials[number].user_attrs["obo"])
    assert counted["weights"] == artifact
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    assert main(["evaluate", "--data", str(videos), "--model", str(tmp_path / "junk.pt")]) == 2
    assert "cannot load it as torchscript" in capsys.readouterr().err


def test_an_int8_trial_of_a_pt2_study_exports_as_pt2_and_torchscript(videos, tmp_path):
    space = SpaceConfig(orders=("Q",), sqnr_threshold_db=(0.0, 0.0))  # every layer it can
    config = tiny_config(videos, "int8", artifact="exported-program", trials=2, space=space)
    study = run_search(config, None, tmp_path, progress=False).study
    trial = _complete(study)[1]
    (step,) = trial.user_attrs["pipeline"]["steps"]
    assert step["quantize"]["backend"] == "pt2e" and len(step["quantize"]["layers"]) > 20
    context = build_context(config, tmp_path, study)
    result = export_trial(study, trial.number, context, tmp_path / "out")
    assert set(result.artifacts) == {"torchscript", "exported-program"} and not result.skipped
    assert result.measured["size_mib"] == trial.user_attrs["size_mib"]
    assert result.measured["mae"] == pytest.approx(trial.user_attrs["mae"])
    model, _ = compress(
        context.model, Pipeline.from_dict(trial.user_attrs["pipeline"]), context.calibration
    )
    (clip,) = context.calibration
    clip = clip[:1]
    with torch.no_grad():
        expected = model(clip)
        for path in result.artifacts.values():
            for got, want in zip(load_artifact(path)(clip), expected, strict=True):
                torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_trials_climb_the_recovery_ladder_and_export_reproduces_their_best_rung(videos, tmp_path):
    recovery = RecoveryConfig(rungs=(2, 3), share=1.0, bn_batches=1)
    config = tiny_config(videos, "ladder", trials=4, recovery=recovery)
    study = run_search(config, None, tmp_path, progress=False).study
    trials = _complete(study)
    assert counted_trials(study.trials) == 4 and len(trials) == 4
    assert not trials[0].user_attrs.get("rungs")  # the baseline has nothing to recover
    climbed = [t for t in trials[1:] if len(t.user_attrs["rungs"]) > 1]
    assert climbed, "with the whole study's time to spend, some trial climbs"
    for trial in trials[1:]:
        rungs = trial.user_attrs["rungs"]
        assert [r["steps"] for r in rungs] == [0, 2, 3][: len(rungs)]
        finetune = [s["finetune"] for s in trial.user_attrs["pipeline"]["steps"] if "finetune" in s]
        best = min(
            (r for r in rungs if r["errors"]), key=lambda r: (sum(r["errors"].values()), r["steps"])
        )
        assert finetune == [dataclasses.asdict(recovery.step(best["steps"]))]
        assert trial.user_attrs["mae"] == best["errors"]["mae"]
    last = climbed[-1]
    result = export_trial(study, last.number, build_context(config, tmp_path, study), tmp_path)
    assert result.measured["mae"] == pytest.approx(last.user_attrs["mae"])
    assert result.measured["size_mib"] == last.user_attrs["size_mib"]


def test_warm_start_trials_follow_the_baseline_once(videos, tmp_path):
    space = SpaceConfig(orders=("P", "T"), prune_ratio=(0.1, 0.5))
    config = tiny_config(videos, "warm", trials=4, space=space)
    study = run_search(config, None, tmp_path, progress=False).study
    warm = [t for t in study.trials if t.user_attrs.get("warm_start")]
    assert [t.number for t in warm] == [1, 2, 3]  # P 25 %, P 40 %, the largest layer factorised
    assert [t.params["order"] for t in warm] == ["P", "P", "T"]
    assert [t.params["prune.ratio"] for t in warm[:2]] == [0.25, 0.4]
    resumed = run_search(dataclasses.replace(config, trials=5), None, tmp_path, progress=False)
    again = [t for t in resumed.study.trials if t.user_attrs.get("warm_start")]
    assert [t.number for t in again] == [1, 2, 3] and counted_trials(resumed.study.trials) == 5


def test_failing_trial_is_recorded_and_the_study_goes_on(videos, tmp_path, monkeypatch):
    real_compress = climb.compress
    calls = []

    def failing_once(model, pipeline, calibration, *device):
        calls.append(pipeline)
        if len(calls) == 2:
            raise RuntimeError("injected failure")
        return real_compress(model, pipeline, calibration, *device)

    monkeypatch.setattr(climb, "compress", failing_once)
    study = run_search(tiny_config(videos, "failing"), None, tmp_path, progress=False).study
    failed = study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))
    assert len(failed) == 1 and failed[0].constraints == {"failed": 1.0}  # for the sampler
    assert failed[0].user_attrs["fail_reason"] == "RuntimeError: injected failure"
    assert len(_complete(study)) == 2 and counted_trials(study.trials) == 3


def test_over_budget_trials_are_infeasible_and_not_scored(videos, tmp_path, monkeypatch):
    monkeypatch.setattr(preflight, "MIN_BUDGET_SHARE", 0.0)  # let any budget through
    config = tiny_config(videos, "budget", budget_ms=0.001, trials=2)
    study = run_search(config, None, tmp_path, progress=False).study
    trials = _complete(study)
    assert len(trials) == 2
    for trial in trials:
        assert not Feasibility.of(study)(trial)
        assert trial.constraints["latency_over_budget_ms"] > 0
        assert trial.user_attrs["mae"] is None and trial.user_attrs["seconds"]["accuracy"] < 0.1
    assert feasible_front(study) == []
    assert (
        main(
            [
                "export",
                "--study",
                "budget",
                "--run-dir",
                str(tmp_path),
                "--trial",
                "0",
                "--out",
                str(tmp_path / "x"),
            ]
        )
        == 2
    )


def test_latency_and_size_study_counts_no_videos(videos, tmp_path, capsys):
    config = tiny_config(videos, "speed-only", objectives=("latency", "size"), trials=2)
    study = run_search(config, None, tmp_path, progress=False).study
    trials = _complete(study)
    assert len(trials) == 2 and all(Feasibility.of(study)(t) for t in trials)
    for trial in trials:
        assert len(trial.values) == 2
        assert trial.user_attrs["mae"] is None and trial.user_attrs["seconds"]["accuracy"] < 0.1
    argv = ["export", "--study", "speed-only", "--run-dir", str(tmp_path), "--out", str(tmp_path)]
    assert main([*argv, "--trial", "most-accurate"]) == 2
    assert "does not score accuracy" in capsys.readouterr().err
    assert main(["pareto", "--study", "speed-only", "--run-dir", str(tmp_path)]) == 0
    assert (tmp_path / "speed-only-pareto.html").is_file()


def _search_command(config_file: Path, run_dir: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "autocompress.cli",
        "search",
        "--config",
        str(config_file),
        "--run-dir",
        str(run_dir),
        "--no-progress",
        *extra,
    ]


def _write_config(config: StudyConfig, path: Path) -> Path:
    path.write_text(yaml.safe_dump(json.loads(json.dumps(dataclasses.asdict(config)))))
    return path


def test_killed_worker_trial_is_retried_and_nothing_is_lost(videos, tmp_path):
    config = tiny_config(videos, "killed", trials=3)
    config_file = _write_config(config, tmp_path / "killed.yaml")
    worker = subprocess.Popen(
        _search_command(config_file, tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    deadline = time.monotonic() + 240
    victim = None
    while victim is None and time.monotonic() < deadline and worker.poll() is None:
        time.sleep(0.5)
        try:
            study = optuna.load_study(study_name="killed", storage=storage)
        except (KeyError, Exception):
            continue
        running = [
            t
            for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if "pipeline" in t.user_attrs and t.number >= 1
        ]
        victim = running[0].number if running else None
    assert victim is not None, "worker never reached a running trial"
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    finished_before = {t.number: t.values for t in _complete(study)}

    outcome = run_search(config, None, tmp_path, progress=False)
    assert victim in outcome.recovered
    trials = outcome.study.trials
    assert trials[victim].state == TrialState.FAIL
    retried = [t for t in trials if t.user_attrs.get("retry_of") == victim]
    assert len(retried) == 1 and retried[0].state == TrialState.COMPLETE
    assert retried[0].params == trials[victim].params
    assert {
        t.number: t.values for t in _complete(outcome.study) if t.number in finished_before
    } == finished_before
    assert len(_complete(outcome.study)) == 3


def test_two_workers_finish_exactly_the_requested_trials(videos, tmp_path):
    config = tiny_config(videos, "shared", trials=5)
    config_file = _write_config(config, tmp_path / "shared.yaml")
    journal = f"journal:{tmp_path / 'shared.journal'}"
    # Create the study (and the baseline's queue entry) once, then start both workers.
    open_study(config, journal, tmp_path)
    workers = [
        subprocess.Popen(
            _search_command(config_file, tmp_path, "--storage", journal),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=480)
        assert worker.returncode == 0, err.decode()
    study = load_existing_study("shared", journal, tmp_path)
    assert len(_complete(study)) == 5
    workers_used = {t.user_attrs["worker"] for t in _complete(study)}
    assert len(workers_used) == 2


def test_workers_joining_a_study_do_not_share_its_seed(videos, tmp_path):
    # Two workers of one seed drew the same numbers: the same pipelines, measured twice.
    config = tiny_config(videos, "seeded")
    draws = []
    for _ in range(3):  # the creator, then two workers that join it
        study, _ = open_study(config, None, tmp_path)
        draws.append(study.ask().suggest_float("x", 0.0, 1.0))
    assert len(set(draws)) == 3
    study, created = open_study(dataclasses.replace(config, name="again"), None, tmp_path)
    assert created and study.ask().suggest_float("x", 0.0, 1.0) == draws[0]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["search", "--budget-ms", "-5"], "budget_ms must be positive"),
        (["search", "--sampler", "annealing"], "unknown sampler"),
        (["search", "--study", "nope", "--config", "/nonexistent.yaml"], "not found"),
        (["search", "--storage", "postgresql://127.0.0.1:9/none"], "cannot open storage"),
        (["pareto", "--study", "absent"], "no studies"),
        (["search", "--accuracy-device", "gpu"], "use cpu, cuda or cuda:N"),
        (["search", "--accuracy-device", "cuda:99"], "no such CUDA device here"),
    ],
)
def test_bad_search_input_is_one_line(argv, message, tmp_path, capsys):
    assert main([*argv, "--run-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_zero_trials_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["search", "--trials", "0"])
    assert exit_info.value.code == 2


def test_export_of_missing_trial(finished_study, capsys):
    _, run_dir, _ = finished_study
    argv = ["export", "--study", "tiny", "--run-dir", str(run_dir), "--trial", "99", "--out", "x"]
    assert main(argv) == 2
    assert "has no trial 99" in capsys.readouterr().err


def test_max_mae_increase_is_a_constraint_against_the_baseline(videos, tmp_path):
    config = tiny_config(videos, "accuracy-limit", trials=2, max_mae_increase=0.05)
    study = run_search(config, None, tmp_path, progress=False).study
    baseline, other = _complete(study)
    assert baseline.user_attrs["baseline"]
    limit = baseline.user_attrs["mae"] + 0.05
    for trial in (baseline, other):
        excess = trial.constraints["mae_over_limit"]
        assert excess == pytest.approx(trial.user_attrs["mae"] - limit)
        assert Feasibility.of(study)(trial) == (excess <= 0)
    assert Feasibility.of(study)(baseline)


def test_each_trial_records_its_speedup_to_a_retimed_baseline(finished_study):
    _, _, study = finished_study
    for trial in _complete(study):
        attrs = trial.user_attrs
        assert attrs["baseline_ms"] > 0
        assert attrs["speedup"] == pytest.approx(attrs["baseline_ms"] / attrs["latency_ms"])


def test_pareto_retime_times_the_front_beside_the_baseline(finished_study, capsys):
    _, run_dir, study = finished_study
    argv = ["pareto", "--study", "tiny", "--run-dir", str(run_dir), "--retime", "--rounds", "1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "re-timed in turns with the baseline" in out
    retimed = out.split("re-timed in turns")[1]
    for trial in feasible_front(study):
        row = rf"^\s+{trial.number}\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+x$"  # ms, spread, x
        assert re.search(row, retimed, re.M)
