"""Study definitions: YAML keys map onto dataclasses, and every mistake names its key."""

import dataclasses

import pytest

from autocompress.cli import main
from autocompress.errors import UserError
from autocompress.models.registry import adapter_for
from autocompress.study.config import StudyConfig, model_settings, with_task_objectives
from autocompress.study.study_files import (
    builtin_study,
    builtin_study_names,
    load_study_config,
    resolve_study_config,
    study_config_from_dict,
)


def _write(tmp_path, text: str):
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return path


def test_yaml_values_reach_the_dataclasses(tmp_path):
    config = load_study_config(
        _write(
            tmp_path,
            "name: small\nbudget_ms: 50\nobjectives: [latency, mae]\n"
            "data: {synthetic_videos: 3}\nspace: {prune_ratio: [0.1, 0.5], orders: [P, PQ]}\n",
        )
    )
    assert config.name == "small" and config.budget_ms == 50.0
    assert config.objectives == ("latency", "mae")
    assert config.data.synthetic_videos == 3
    assert config.space.prune_ratio == (0.1, 0.5) and config.space.orders == ("P", "PQ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("budjet_ms: 5\n", "unknown key budjet_ms"),
        ("space: {prune_ratios: [0, 1]}\n", "unknown key space.prune_ratios"),
        ("data: {synthetic_videos: many}\n", "data.synthetic_videos: expected int"),
        ("space: {prune_ratio: [0.5]}\n", "space.prune_ratio: expected 2 items"),
        ("space: {prune_ratio: [0.6, 0.2]}\n", "lower bound 0.6 is above"),
        ("space: {orders: [QP]}\n", "space.orders"),
        ("objectives: [latency, latency]\n", "names one twice"),
        ("budget_ms: -3\n", "budget_ms must be positive"),
        ("trials: 0\n", "trials must be at least 1"),
        ("name: [unclosed\n", "not valid YAML"),
        ("- a list\n", "expected a mapping"),
        ("recovery: {steps: -1}\n", r"recovery.rungs must rise from 1 step, got \[-1\]"),
        ("recovery: {share: 2}\n", "recovery.share must be within 0 and 1"),
        ("recovery: {learning_rate: -1}\n", "recovery: finetune learning_rate"),
        ("accuracy_device: tpu\n", "use cpu, cuda or cuda:N"),
        ("artifact: aoti\nquantization: fx\n", "torch.export refuses"),
    ],
)
def test_mistakes_name_the_key(tmp_path, text, message):
    with pytest.raises(UserError, match=message):
        load_study_config(_write(tmp_path, text))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"objectives": ["speed"]}, "'speed' is not measured for preset 'repnet-s'"),
        ({"preset": "digits", "objectives": ["mae"]}, "choose from latency, size, top1_error"),
        ({"preset": "digits", "max_mae_increase": 0.1}, "task reports no MAE"),
        ({"counting": "best"}, "counting: .best.; choose from default, official"),
        ({"preset": "repnet-xl"}, "unknown preset 'repnet-xl'"),
    ],
)
def test_what_the_model_decides_is_checked_against_its_adapter(tmp_path, values, message):
    with pytest.raises(UserError, match=message):
        config = study_config_from_dict(values)
        with_task_objectives(config, adapter_for(model_settings(config, tmp_path)).objectives)


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_study_config(tmp_path / "absent.yaml")


def test_shipped_default_study_is_the_builtin_default():
    path = builtin_study("default")
    assert path is not None
    assert load_study_config(path) == StudyConfig()


def test_shipped_quva_study_is_valid():
    path = builtin_study("repnet-quva")
    assert path is not None
    config = load_study_config(path)
    assert config.preset == "repnet" and config.budget_ms == 900.0


def test_command_line_overrides_win(tmp_path):
    path = _write(tmp_path, "name: from-file\ntrials: 50\n")
    config = resolve_study_config(
        None, path, {"trials": 7, "budget_ms": None, "data.path": "/videos", "latency.threads": 2}
    )
    assert config.name == "from-file" and config.trials == 7
    assert config.data.path == "/videos" and config.latency.threads == 2
    renamed = resolve_study_config("other", path, {})
    assert dataclasses.replace(renamed, name="from-file") == load_study_config(path)


def test_every_builtin_study_is_valid():
    names = builtin_study_names()
    assert {"default", "repnet-quva", "repnet-budget"} <= set(names)
    for name in names:
        load_study_config(builtin_study(name))


def test_a_stored_study_resumes_with_its_own_definition():
    created = StudyConfig(name="fast", budget_ms=30.0, sampler="random", trials=5)
    stored = dataclasses.asdict(created)
    del stored["trials"]
    resumed = resolve_study_config("fast", None, {"trials": 9}, stored)
    assert resumed == dataclasses.replace(created, trials=9)
    # The built-in file of the same name does not apply to a stored study.
    assert resolve_study_config("default", None, {}, stored).budget_ms == 30.0


def test_an_unknown_study_name_says_it_starts_from_the_defaults(tmp_path, capsys):
    # The unknown sampler stops the run after the first line, before any model is built.
    argv = ["search", "--study", "fast", "--sampler", "annealing", "--run-dir", str(tmp_path)]
    assert main(argv) == 2
    first_line = capsys.readouterr().out.splitlines()[0]
    assert "'fast' is neither a study file nor a stored study" in first_line
    assert "repnet-budget" in first_line and "repnet-quva" in first_line


def test_the_artifact_format_round_trips_through_the_study_file(tmp_path):
    config = load_study_config(_write(tmp_path, "artifact: exported-program\n"))
    assert config.artifact == "exported-program"
    stored = dataclasses.asdict(config)
    assert resolve_study_config(None, None, {}, stored).artifact == "exported-program"
    with pytest.raises(UserError, match="artifact: 'onnx'"):
        load_study_config(_write(tmp_path, "artifact: onnx\n"))


def test_format_quantization_and_recovery_round_trip_through_the_study_file(tmp_path):
    text = "artifact: aoti\nquantization: pt2e\nrecovery: {rungs: [20, 80], share: 0.5}\n"
    config = load_study_config(_write(tmp_path, text))
    assert (config.artifact, config.quantize_backend) == ("aoti", "pt2e")
    assert config.recovery.rungs == (20, 80) and config.recovery.step(80).steps == 80
    stored = dataclasses.asdict(config)
    assert resolve_study_config(None, None, {}, stored) == config
    # A study stored before the ladder: its recovery trials' steps are the one rung.
    legacy = load_study_config(_write(tmp_path, "recovery: {trials: 3, steps: 50}\n"))
    assert legacy.recovery.rungs == (50,) and legacy.recovery.enabled
    off = load_study_config(_write(tmp_path, "recovery: {trials: 0}\n"))
    assert not off.recovery.enabled
    with pytest.raises(UserError, match=r"recovery\.rungs must rise"):
        load_study_config(_write(tmp_path, "recovery: {rungs: [150, 30]}\n"))
