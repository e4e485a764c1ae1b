"""Static and dynamic int8 on repnet-s; the per-layer SQNR analysis."""

import pytest
import torch

from autocompress.analysis.sqnr import layer_sqnr, layers_above
from autocompress.backends.torchscript import script
from autocompress.compression import (
    Pipeline,
    PipelineError,
    QuantizeStep,
    TensorizeStep,
    apply,
    apply_pipeline,
    quantizable_layers,
)
from autocompress.compression.calibration import random_clips
from autocompress.compression.quantization.fx import is_quantized


@pytest.fixture(scope="module")
def model(random_repnet_s):
    return random_repnet_s


@pytest.fixture(scope="module")
def clips(model):
    return random_clips(model, 2)


def test_static_quantizes_exactly_the_selected_layers(model, clips):
    selected = ["temporal_conv.conv", "encoder.stages.1.blocks.0.conv2", "periodicity_head.fc1"]
    report = apply(model, QuantizeStep(selected), clips)
    assert [layer.name for layer in report.layers] == selected
    assert all(layer.quantized for layer in report.layers)
    assert report.layers[0].module_type == "ConvReLU3d"  # conv + bn + relu fused
    modules = dict(report.model.named_modules())
    others = set(quantizable_layers(model)) - set(selected)
    assert not any(is_quantized(modules[name]) for name in others if name in modules)
    scripted = script(report.model)
    period, periodicity, _ = scripted(clips[:1])
    reference = model(clips[:1])
    assert period.shape == reference[0].shape
    assert torch.allclose(periodicity, reference[1], atol=0.1)


def test_dynamic_quantizes_linears_only(model):
    heads = [n for n in quantizable_layers(model) if n.startswith("period_length_head")]
    report = apply(model, QuantizeStep(heads, mode="dynamic"))
    assert all(layer.quantized for layer in report.layers)
    script(report.model)
    with pytest.raises(PipelineError, match="Linear layers only"):
        apply(model, QuantizeStep(["temporal_conv.conv"], mode="dynamic"))


def test_static_needs_calibration_and_known_layers(model, clips):
    with pytest.raises(PipelineError, match="calibration"):
        apply(model, QuantizeStep(["temporal_conv.conv"]))
    with pytest.raises(PipelineError, match="not a quantizable layer"):
        apply(model, QuantizeStep(["period_length_head.transformer_layer.self_attn"]), clips)


def test_sqnr_table_is_sorted_and_covers_every_layer(model, clips):
    results = layer_sqnr(model, clips)
    assert {r.name for r in results} == set(quantizable_layers(model))
    values = [r.sqnr_db for r in results]
    assert values == sorted(values, reverse=True)
    assert min(values) > 10 and max(values) < 80
    assert layers_above(results, values[2]) == [r.name for r in results[:3]]


def test_int8_factors_feeding_a_float_factor_with_a_bias_run(model, clips):
    # CP's first two factors int8, the rest float: FX fed quint8 values to the float factor
    # ("Input type (c10::quint8) and bias type (float) should be the same"; five trials in a
    # row of a 200-trial search).
    layer = "encoder.stages.2.blocks.0.conv1"
    selected = [f"{layer}.0", f"{layer}.1", "encoder.stem.conv", "encoder.stages.0.blocks.1.conv2"]
    selected += ["encoder.stages.1.blocks.0.conv1", "encoder.stages.1.blocks.1.conv3"]
    selected += ["encoder.stages.2.blocks.1.conv2", "temporal_conv.conv"]
    steps = [TensorizeStep(ranks={layer: 0.25}, method="cp"), QuantizeStep(selected)]
    quantized, _ = apply_pipeline(model, Pipeline(steps), clips)
    period = script(quantized)(clips[:1])[0]
    assert period.shape == model(clips[:1])[0].shape


def test_a_block_with_a_float_factorised_layer_beside_int8_ones_runs(model, clips):
    # FX gave this block's batch norm + ReLU an int8 module while its factorised conv1 stayed
    # float ("Could not run ... QuantizedCPU"); the block's glue then goes int8 as a whole.
    block = "encoder.stages.2.blocks.0"
    factorised = [f"{block}.{name}" for name in ("conv1", "conv2", "conv3", "downsample.conv")]
    selected = ["encoder.stages.1.blocks.1.conv1"] + [
        f"{name}.{factor}" for name in factorised[1:] for factor in range(3)
    ]
    steps = [TensorizeStep(ranks=dict.fromkeys(factorised, 0.25)), QuantizeStep(selected)]
    quantized, reports = apply_pipeline(model, Pipeline(steps), clips)
    assert all(layer.quantized for layer in reports[-1].layers)
    modules = dict(quantized.named_modules())
    assert not any(is_quantized(modules[f"{block}.conv1.{factor}"]) for factor in range(3))
    period = script(quantized)(clips[:1])[0]
    assert period.shape == model(clips[:1])[0].shape
