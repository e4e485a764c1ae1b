"""Structured pruning on repnet-s: achieved widths, the Conv3d, refusals."""

import pytest
import torch
from torch import nn

from autocompress.backends.torchscript import script
from autocompress.compression import PipelineError, PruneStep, apply, prunable_groups
from autocompress.compression.prune import kept_channels
from autocompress.models.repnet.network import build_repnet
from tests.zoo_models import Branching


def _out(module: nn.Module) -> int:
    return module.out_features if isinstance(module, nn.Linear) else module.out_channels


@pytest.fixture
def model():
    torch.manual_seed(0)
    return build_repnet("repnet-s").eval()


def test_every_group_reaches_its_ratio_and_the_model_scripts(model):
    groups = prunable_groups(model)
    ratios = {group: 0.5 if "head" in group else 0.35 for group in groups}
    ratios["temporal_conv"] = 0.64
    before = {name: _out(model.get_submodule(name)) for g in groups.values() for name in g}
    report = apply(model, PruneStep(ratios), None)
    assert report.model is model
    for layer in report.layers:
        assert layer.channels_before == before[layer.name]
        expected = kept_channels(layer.channels_before, ratios[layer.group], None)
        assert layer.channels_after == expected
        assert _out(model.get_submodule(layer.name)) == layer.channels_after
    conv3d = model.temporal_conv.conv
    assert (conv3d.out_channels, model.temporal_conv.bn.num_features) == (35, 35)
    assert report.params_after < report.params_before
    clip = torch.rand(1, *model.config.input_shape) * 2 - 1
    period, _, embeddings = script(model)(clip)
    assert period.shape == (1, 64, 32) and embeddings.shape == (1, 64, 35)


@pytest.mark.parametrize("importance", ["bn_scale", "taylor"])
def test_data_and_bn_importance_with_round_to(model, importance):
    calibration = torch.rand(1, *model.config.input_shape) * 2 - 1
    step = PruneStep({"temporal_conv": 0.5, "encoder.stages.2": 0.3}, importance, round_to=8)
    report = apply(model, step, calibration)
    assert all(layer.channels_after % 8 == 0 for layer in report.layers)
    assert model.temporal_conv.conv.out_channels == 48


def test_refusals(model):
    with pytest.raises(PipelineError, match=r"\[0, 1\)"):
        PruneStep({"temporal_conv": 1.0})
    with pytest.raises(PipelineError, match="unknown prune group"):
        apply(model, PruneStep({"tsm_conv": 0.5}))
    with pytest.raises(PipelineError, match="taylor importance needs calibration"):
        apply(model, PruneStep({"temporal_conv": 0.5}, "taylor"))


def test_ratio_that_rounds_to_nothing_warns(model):
    with pytest.warns(UserWarning, match="rounds to no channel removed"):
        report = apply(model, PruneStep({"encoder.stem": 0.01}))
    assert report.layers[0].achieved_ratio == 0.0
    assert report.notes


def test_a_branch_the_calibration_input_does_not_run_is_left_unpruned_with_a_note():
    torch.manual_seed(0)
    model = Branching().eval()  # a second block only while the features are large
    quiet = (0.01 * torch.randn(4, 3, 8, 8),)  # the stem's features stay small: no extra
    with pytest.warns(UserWarning, match="left unpruned, the calibration input does not run"):
        report = apply(model, PruneStep({"extra.0": 0.5}), quiet)
    assert model.stem[0].out_channels == 16 and model.extra[0].out_channels == 16
    assert report.layers == ()
    assert "extra.0 (group 'extra.0')" in report.notes[-1]
