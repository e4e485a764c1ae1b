"""What the commands print: our lines only, library warnings on request (`autocompress -v`),
and per Pareto point how many warnings its trial raised."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_search import _write_config, tiny_config

from autocompress.cli import main
from autocompress.spaces.config import SpaceConfig
from autocompress.study.lifecycle import load_existing_study

STUDY = "quiet"


def _cli(*argv: str) -> subprocess.CompletedProcess:
    """The command as a user runs it, with Python's default warning filters made loud (as
    `python -W default`): anything a library warns about would reach the terminal."""
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    command = [sys.executable, "-m", "autocompress.cli", *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def searched(tiny_set, tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """A two-trial int8 study (quantization is what warns most: torch.ao deprecations, and the
    SQNR ranking before the first trial), run by the command: run dir, study file, process."""
    run_dir = tmp_path_factory.mktemp("run")
    config = tiny_config(tiny_set, STUDY, trials=2, space=SpaceConfig(orders=("Q",)))
    config_file = _write_config(config, tmp_path_factory.mktemp("config") / "quiet.yaml")
    done = _cli("search", "--config", str(config_file), "--run-dir", str(run_dir), "--no-progress")
    return run_dir, config_file, done


def test_search_and_export_print_no_library_warnings(searched, tmp_path):
    run_dir, _, search = searched
    argv = ["export", "--study", STUDY, "--run-dir", str(run_dir), "--trial", "1"]
    export = _cli(*argv, "--out", str(tmp_path))
    for done in (search, export):
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        assert "Warning" not in done.stdout and "deprecated" not in done.stdout
    stored = load_existing_study(STUDY, None, run_dir).trials[1].user_attrs["warnings"]
    assert any("deprecated" in message for message in stored)  # kept with the trial


def _queue_another_int8_set(run_dir: Path) -> None:
    """Queue trial 2 with a threshold that quantizes another set of layers than trial 1's: a
    drawn one may quantize none (above every SQNR) or trial 1's set, and take a finished
    trial's measurements over without building anything, so without a warning."""
    study = load_existing_study(STUDY, None, run_dir)
    sqnr = json.loads(study.user_attrs["sqnr_db"]).values()
    first = study.trials[1].user_attrs["pipeline"]["steps"][0]["quantize"]["layers"]
    threshold = min(sqnr) - 1.0 if len(first) == 1 else max(sqnr) - 0.01  # all, or one
    study.enqueue_trial({"order": "Q", "quantize.sqnr_threshold_db": threshold})


def test_verbose_prints_library_and_trial_warnings(searched, tmp_path, capfd):
    run_dir, config_file, _ = searched
    _queue_another_int8_set(run_dir)
    search = ["search", "--config", str(config_file), "--run-dir", str(run_dir), "--trials", "3"]
    assert main(["-v", *search, "--no-progress"]) == 0
    err = capfd.readouterr().err
    recorded = load_existing_study(STUDY, None, run_dir).trials[2].user_attrs["warnings"]
    assert recorded and all(f"trial 2 warned: {message}" in err for message in recorded)

    export = ["export", "--study", STUDY, "--run-dir", str(run_dir), "--out", str(tmp_path)]
    assert main(["-v", *export, "--trial", "0"]) == 0
    assert "DeprecationWarning: `torch.jit.load` is deprecated" in capfd.readouterr().err


def test_pareto_counts_each_points_warnings(searched, capsys):
    run_dir, _, _ = searched
    assert main(["pareto", "--study", STUDY, "--run-dir", str(run_dir)]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.split()[-2:] == ["warnings", "pipeline"]
    rows = [line for line in lines if line.split()[0].isdigit()]  # not the notes, the plots
    trials = load_existing_study(STUDY, None, run_dir).trials
    column = header.split().index("warnings") - 1  # "latency ms" is two words of the header
    counts = {int(row.split()[0]): int(row.split()[column]) for row in rows}
    assert counts and counts == {n: len(trials[n].user_attrs["warnings"]) for n in counts}


def test_objective_names_are_stored_for_dashboards(searched):
    """optuna-dashboard and Optuna's plots label the axes with these."""
    study = load_existing_study(STUDY, None, searched[0])
    assert study.metric_names == ["latency", "size", "mae", "obo"]


def test_pareto_without_plotly_draws_the_png_and_says_how_to_get_the_html(
    searched, tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(sys.modules, "plotly", None)  # as if the html extra were not installed
    plot = tmp_path / "front.png"
    argv = ["pareto", "--study", STUDY, "--run-dir", str(searched[0]), "--plot", str(plot)]
    assert main(argv) == 0
    assert plot.is_file() and not plot.with_suffix(".html").exists()
    assert "pip install 'autocompress[html]'" in capsys.readouterr().err
