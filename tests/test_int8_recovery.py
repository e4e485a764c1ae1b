"""Recovery through int8: a quantize step's ``recovery`` distils through fake quantization
before converting; it brings the int8 model closer to the float one, replays to the same
weights, reads pipelines stored without it, and is refused where no backend can train."""

import pytest
import torch
from test_compression_pipeline import TinyCNN
from torch import nn

from autocompress.compression import (
    FinetuneStep,
    Pipeline,
    PipelineError,
    QuantizeStep,
    apply,
    apply_pipeline,
)

LAYERS = ["features.0", "features.3", "classifier"]
RECOVERY = FinetuneStep(steps=30, learning_rate=3e-4, batch_size=8, bn_batches=0)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    model = TinyCNN().eval()
    with torch.no_grad():
        model.classifier.weight.mul_(30)  # outputs of unit scale: an int8 error to win back
    return model


@pytest.fixture(scope="module")
def calibration():
    return torch.randn(64, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def _error(int8: nn.Module, model: nn.Module) -> float:
    """Mean squared distance to the float model on inputs neither step saw."""
    unseen = torch.randn(64, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        return (int8(unseen) - model(unseen)).pow(2).mean().item()


@pytest.fixture(scope="module")
def recovered(model, calibration):
    step = QuantizeStep(LAYERS, recovery=RECOVERY)
    return apply_pipeline(model, Pipeline([step]), calibration)


def test_recovery_brings_the_int8_model_closer_to_the_float_one(model, calibration, recovered):
    post_training, _ = apply_pipeline(model, Pipeline([QuantizeStep(LAYERS)]), calibration)
    int8, (report,) = recovered
    assert all(layer.quantized for layer in report.layers)
    assert "recovered through int8: 30 steps" in report.notes[0]
    pairs = zip(_int8_weights(int8), _int8_weights(post_training), strict=True)
    assert not all(torch.equal(ours, theirs) for ours, theirs in pairs)
    assert _error(int8, model) < 0.9 * _error(post_training, model)


def _int8_weights(int8: nn.Module) -> list[torch.Tensor]:
    return [int8.get_submodule(name).weight().int_repr() for name in LAYERS]


def test_a_replay_gives_the_same_int8_model(model, calibration, recovered):
    step = QuantizeStep(LAYERS, recovery=RECOVERY)
    again, _ = apply_pipeline(model, Pipeline([step]), calibration)
    pairs = zip(_int8_weights(again), _int8_weights(recovered[0]), strict=True)
    assert all(torch.equal(ours, theirs) for ours, theirs in pairs)
    assert _error(again, model) == _error(recovered[0], model)


def test_stored_pipelines_keep_their_meaning():
    old = Pipeline.from_yaml("steps:\n- quantize: {layers: [features.0], mode: static}\n")
    assert old.steps[0] == QuantizeStep(["features.0"])
    assert old.steps[0].recovery is None
    assert "recovery" not in old.to_yaml()  # stored as before: a study matches its old trials
    new = Pipeline([QuantizeStep(LAYERS, recovery=RECOVERY)])
    assert Pipeline.from_yaml(new.to_yaml()) == new
    assert "recovery:\n      steps: 30" in new.to_yaml()


def test_recovery_is_refused_where_it_cannot_train(model, calibration):
    with pytest.raises(PipelineError, match="pt2e backend cannot recover through int8"):
        QuantizeStep(["features.0"], backend="pt2e", recovery=RECOVERY)
    with pytest.raises(PipelineError, match="dynamic int8 has none"):
        QuantizeStep(["classifier"], mode="dynamic", recovery=RECOVERY)
    with pytest.raises(PipelineError, match="steps must be an integer"):
        Pipeline.from_yaml("steps:\n- quantize: {layers: [features.0], recovery: {steps: -1}}\n")
    with pytest.raises(PipelineError, match="give it as teacher"):
        apply(model, QuantizeStep(LAYERS, recovery=RECOVERY), calibration)
