"""Models named on the command line by import path and described by their input shape, and
the error caps a study keeps: set on the command line, shown, and honoured by every pick."""

from __future__ import annotations

import json
import textwrap

import optuna
import pytest
import torch

from autocompress.backends import load_artifact
from autocompress.cli import main
from autocompress.cli.app import build_parser
from autocompress.cli.search import _study_overrides
from autocompress.errors import UserError
from autocompress.inputs import described_inputs, input_spec
from autocompress.models.imported import imported_adapter
from autocompress.study.config import StudyConfig
from autocompress.study.export import exportable_trial, pick_trial
from autocompress.study.storage import stored_config
from autocompress.study.study_files import resolve_study_config

MODULE = textwrap.dedent(
    """
    import torch
    from torch import nn

    class Tagger(nn.Module):
        '''Token ids and an attention mask in, one score per sequence out.'''

        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.embed = nn.Embedding(10, 16)
            self.body = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))

        def forward(self, ids, mask):
            hidden = self.embed(ids) * mask.unsqueeze(-1)
            return self.body(hidden.mean(1))

    def make():
        return Tagger().eval()

    def pair():
        return make(), (torch.zeros(1, 8, dtype=torch.long), torch.ones(1, 8, dtype=torch.long))

    def error(model):
        ids = torch.arange(64).reshape(8, 8) % 10
        with torch.no_grad():
            return float(model(ids, torch.ones_like(ids)).argmax(1).float().mean() / 3)
    """
)

STUDY = textwrap.dedent(
    """
    sampler: random
    warm_start: false
    latency: {warmup: 1, runs: 3}
    """
)


@pytest.fixture
def models(tmp_path, monkeypatch):
    (tmp_path / "zoo_models.py").write_text(MODULE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_input_spec_follows_the_latency_command_conventions():
    assert input_spec("1,3,8,8") == [((1, 3, 8, 8), torch.float32)]
    assert input_spec("2,16;2,16", "int64;bool") == [((2, 16), torch.int64), ((2, 16), torch.bool)]
    for shape, types, message in [
        ("1,x", None, "expected sizes"),
        ("1,0", None, ">= 1"),
        ("1,16;1,16", "int64", "2 input shapes"),
        ("1,16", "int8", "choose from"),
    ]:
        with pytest.raises(UserError, match=message):
            input_spec(shape, types)


def test_described_inputs_are_random_but_the_same_on_every_resume():
    ids, mask, image = described_inputs("2,16;2,16;2,3,4,4", "int64;int64;float")
    assert ids.dtype == torch.int64 and set(ids.unique().tolist()) == {0, 1}
    assert image.shape == (2, 3, 4, 4) and image.std() > 0.5
    again = described_inputs("2,16;2,16;2,3,4,4", "int64;int64;float")
    assert all(torch.equal(a, b) for a, b in zip((ids, mask, image), again, strict=True))
    with pytest.raises(UserError, match="batch"):
        described_inputs("1,4;2,4")


def test_a_plain_module_needs_its_input_shape_and_a_pair_refuses_one(models):
    adapter = imported_adapter("zoo_models:make", "zoo_models:error", "1,8;1,8", "int64;int64")
    assert [t.dtype for t in adapter.example_inputs(3)] == [torch.int64, torch.int64]
    assert adapter.model(*adapter.example_inputs(3)).shape == (3, 4)
    assert adapter.objectives == ("error",)
    with pytest.raises(UserError, match="--input-shape 1,3,224,224"):
        imported_adapter("zoo_models:make", None)
    with pytest.raises(UserError, match="brings its own example inputs"):
        imported_adapter("zoo_models:pair", None, "1,8;1,8")
    with pytest.raises(UserError, match="give input_shape too"):
        imported_adapter("zoo_models:make", None, None, "int64")
    with pytest.raises(UserError, match="input_shape"):
        StudyConfig(preset="zoo_models:make", input_shape="1;x")


def test_search_a_plain_module_by_shape_resume_and_export(models, capsys):
    (models / "study.yaml").write_text(STUDY)
    common = ["--study", "tagger", "--run-dir", str(models / "runs")]
    argv = [
        "search", *common, "--config", "study.yaml", "--model", "zoo_models:make",
        "--input-shape", "1,8;1,8", "--input-type", "int64;int64", "--task", "zoo_models:error",
        "--max-error-increase", "error=0.5", "--trials", "3", "--no-progress",
    ]  # fmt: skip
    assert main(argv) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "error caps error +0.5" in first and "zoo_models:make" in first
    # Resumed by name alone: the stored definition rebuilds the same inputs and caps.
    assert main(["search", *common, "--trials", "4", "--no-progress"]) == 0
    assert "error caps error +0.5" in capsys.readouterr().out.splitlines()[0]
    study = optuna.load_study(study_name="tagger", storage=f"sqlite:///{models}/runs/study.db")
    stored = stored_config(study)
    assert (stored["input_shape"], stored["input_type"]) == ("1,8;1,8", "int64;int64")
    assert len(study.trials) == 4
    out = models / "out"
    assert main(["export", *common, "--trial", "fastest", "--out", str(out)]) == 0
    artifact = load_artifact(next(out.glob("*.pt")))
    ids = torch.ones(2, 8, dtype=torch.long)
    assert artifact(ids, ids).shape == (2, 4)


def test_the_error_cap_flag_merges_with_the_legacy_one_and_the_stored_caps(capsys):
    argv = [
        "search", "--max-error-increase", "top1_error=0.01,obo=0.3",
        "--max-error-increase", "obo=0.1", "--max-mae-increase", "0.2",
    ]  # fmt: skip
    overrides = _study_overrides(build_parser().parse_args(argv))
    stored = {"max_error_increase": {"top1_error": 0.5, "other": 0.4}}
    config = resolve_study_config("caps", None, overrides, stored)
    assert config.max_error_increase == {
        "top1_error": 0.01, "other": 0.4, "obo": 0.1, "mae": 0.2
    }  # fmt: skip
    for bad in ("error", "error=-1", "=0.1"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["search", "--max-error-increase", bad])
        assert "expected ERROR=INCREASE" in capsys.readouterr().err


def _study_with_caps(caps: dict[str, float], budget_ms: float | None = None) -> optuna.Study:
    """A stored study: the baseline and two compressed points, the fastest and smallest of
    which raises the error by 0.4."""
    study = optuna.create_study(directions=["minimize"] * 3, study_name="caps")
    definition = {
        "objectives": ["latency", "size", "error"],
        "max_error_increase": caps,
        "budget_ms": budget_ms,
    }
    study.set_user_attr("config", json.dumps(definition))
    for baseline, latency, size, error in [
        (True, 10.0, 1.0, 0.1),
        (False, 2.0, 0.5, 0.5),
        (False, 5.0, 0.8, 0.105),
    ]:
        attrs = {"baseline": baseline, "latency_ms": latency, "size_mib": size, "error": error}
        study.add_trial(
            optuna.trial.create_trial(
                values=[latency, size, error], user_attrs={**attrs, "pipeline": {"steps": []}}
            )
        )
    return study


def test_picks_never_break_the_error_caps():
    assert pick_trial(_study_with_caps({}), "smallest") == 1
    capped = _study_with_caps({"error": 0.01})
    assert pick_trial(capped, "smallest") == 2
    assert pick_trial(capped, "most-accurate") == 0
    with pytest.raises(UserError, match="trial 1 is infeasible"):
        exportable_trial(capped, 1)
    none_fit = _study_with_caps({"error": 0.01}, budget_ms=1.0)
    with pytest.raises(UserError) as raised:
        pick_trial(none_fit, "fastest")
    message = str(raised.value)
    assert "no feasible point" in message and "budget 1 ms, error +0.01" in message
    assert "\n" not in message
