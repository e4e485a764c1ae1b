"""Depth pruning, the technique added as one module (compression/depth.py): it really removes
blocks, the model still runs, scripts and exports, and the registry carries it into the
search space, the pipeline YAML, the front's summary and export."""

import json

import optuna
import pytest
import torch

from autocompress import load_artifact
from autocompress.backends import ARTIFACT_FORMATS
from autocompress.backends.torchscript import script
from autocompress.cli import main
from autocompress.compression import Pipeline, PipelineError, apply, apply_pipeline
from autocompress.compression.depth import DepthStep, ranked_blocks
from autocompress.compression.registry import technique_lettered
from autocompress.models.digits.adapter import load_digits_model
from autocompress.models.digits.network import digits_split
from autocompress.spaces.config import SpaceConfig
from autocompress.spaces.pipeline_space import LayerCatalog, suggest_pipeline


@pytest.fixture()
def digits():
    return load_digits_model()[0]


@pytest.fixture(scope="module")
def images():
    return digits_split(held_out=False)[0][:8]


def test_dropping_blocks_removes_them_and_the_model_still_runs_and_scripts(digits, images):
    before = sum(p.numel() for p in digits.parameters())
    report = apply(digits, DepthStep(["stages.0.1", "stages.1.1"]))
    assert isinstance(digits.get_submodule("stages.0.1"), torch.nn.Identity)
    assert report.params_after < before and report.model is digits
    assert sum(p.numel() for p in digits.parameters()) == report.params_after
    scripted = script(digits)
    assert torch.allclose(scripted(images), digits(images))
    data = ARTIFACT_FORMATS["exported-program"].serialize(digits, images[:1])
    assert ARTIFACT_FORMATS["exported-program"].load(data)(images[:1]).shape == (1, 10)


def test_only_blocks_the_structure_offers_can_be_dropped(digits):
    with pytest.raises(PipelineError, match="removable blocks are"):
        apply(digits, DepthStep(["stages.1.0"]))  # strided, projecting shortcut
    with pytest.raises(PipelineError, match="twice"):
        DepthStep(["stages.0.1", "stages.0.1"])


def test_later_steps_cannot_name_what_a_dropped_block_held(digits):
    yaml = (
        "steps:\n- depth: {blocks: [stages.1.1]}\n- tensorize: {ranks: {stages.1.1.conv1: 0.5}}\n"
    )
    with pytest.raises(PipelineError, match=r"in block stages\.1\.1, dropped earlier"):
        Pipeline.from_yaml(yaml).validate(digits)


def test_a_pipeline_with_depth_round_trips_through_yaml_and_applies(digits, images):
    pipeline = Pipeline([DepthStep(["stages.1.1"])])
    again = Pipeline.from_yaml(pipeline.to_yaml())
    assert again == pipeline and "depth" in pipeline.to_yaml()
    _, (report,) = apply_pipeline(digits, again, images)
    assert report.technique == "depth" and "stages.1.1" in str(report)


def test_blocks_are_offered_least_changing_first(digits, images):
    ranked = ranked_blocks(digits, images)
    assert sorted(ranked) == ["stages.0.0", "stages.0.1", "stages.1.1"]


def test_the_space_samples_depth_through_the_registry(digits, images):
    assert technique_lettered("D").kind == "depth"
    space = SpaceConfig(orders=("DP",))
    catalog = LayerCatalog.of(digits, space, {}, calibration=images)
    assert catalog.offers["depth"] == ranked_blocks(digits, images)
    trial = optuna.trial.FixedTrial(
        {
            "order": "DP",
            "depth.blocks": 2,
            "prune.per_group": False,
            "prune.ratio": 0.3,
            "prune.taper": 0.0,
        }
    )
    depth, prune = suggest_pipeline(trial, catalog, space).steps
    assert depth.blocks == list(catalog.offers["depth"][:2])
    assert not any(group.startswith(tuple(b + "." for b in depth.blocks)) for group in prune.ratios)


def test_a_study_searches_exports_and_summarises_depth(tmp_path, capsys):
    study_file = tmp_path / "depth.yaml"
    study_file.write_text(
        "name: depth\npreset: digits\ntrials: 6\nsampler: random\nwarm_start: false\n"
        "latency: {warmup: 1, runs: 5}\nspace: {orders: [D, DQ]}\nmax_error_increase: {}\n"
    )
    common = ["--run-dir", str(tmp_path / "runs"), "--study", "depth"]
    assert main(["search", "--config", str(study_file), *common, "--no-progress"]) == 0
    table = capsys.readouterr().out
    assert "drop " in table and " blocks" in table
    # Every trial but the baseline drops blocks (orders D and DQ), so the smallest point, picked
    # by size and not by a measured latency, holds a depth step and is smaller than the baseline.
    exported = {}
    for pick in ("smallest", "0"):
        out = tmp_path / f"out-{pick}"
        assert main(["export", *common, "--trial", pick, "--out", str(out)]) == 0
        (metrics,) = out.glob("*.json")
        exported[pick] = json.loads(metrics.read_text())
        artifact = load_artifact(next(out.glob("*.pt")))
        assert artifact(digits_split(held_out=True)[0][:4]).shape == (4, 10)
    smallest, baseline = exported["smallest"], exported["0"]
    assert smallest["trial"] != 0 and baseline["pipeline"]["steps"] == []
    (depth, *_) = smallest["pipeline"]["steps"]
    assert set(depth) == {"depth"} and depth["depth"]["blocks"]
    assert smallest["trial_metrics"]["size_mib"] < baseline["trial_metrics"]["size_mib"]
