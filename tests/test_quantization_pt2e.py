"""The PT2E int8 backend: per-layer selection on a torch.export graph, its SQNR analysis, and
int8 models that ship as .pt2 (and TorchScript), loaded back equal to the model."""

import pytest
import torch

import autocompress
from autocompress.analysis.sqnr import layer_sqnr
from autocompress.backends import ARTIFACT_FORMATS
from autocompress.compression import PipelineError, QuantizeStep, apply, quantizable_layers
from autocompress.compression.calibration import random_clips
from autocompress.compression.quantization import quantization_backend
from autocompress.compression.quantization.pt2e import layer_nodes
from autocompress.errors import UserError
from autocompress.study.config import StudyConfig

SELECTED = ["encoder.stages.1.blocks.0.conv2", "encoder.stem.conv", "periodicity_head.fc1"]


@pytest.fixture(scope="module")
def model(random_repnet_s):
    return random_repnet_s


@pytest.fixture(scope="module")
def clips(model):
    return random_clips(model, 3)


@pytest.fixture(scope="module")
def report(model, clips):
    return apply(model, QuantizeStep(SELECTED, backend="pt2e"), clips)


def _int8_weights(graph_module) -> set[str]:
    backend = quantization_backend("pt2e")
    layers = list(layer_nodes(graph_module))
    return {
        layer.name for layer in backend.quantized_layers(graph_module, layers) if layer.quantized
    }


def test_pt2e_quantizes_exactly_the_named_layers(model, clips, report):
    assert [layer.name for layer in report.layers] == SELECTED
    assert all(layer.quantized for layer in report.layers)
    assert _int8_weights(report.model) == set(SELECTED)
    int8_tensors = [b for b in report.model.buffers() if b.dtype == torch.int8]
    assert len(int8_tensors) == len(SELECTED)  # the float originals are gone
    with torch.no_grad():
        for batch in (1, 3):  # counting batches chunks: the batch size stays free
            period, periodicity, _ = report.model(clips[:batch])
            reference = model(clips[:batch])
            assert period.shape == reference[0].shape
            assert torch.allclose(periodicity, reference[1], atol=0.1)


def test_pt2e_refuses_layers_it_has_no_int8_kernel_for(model, clips):
    with pytest.raises(PipelineError, match=r"no int8 Conv3d: cannot quantize temporal_conv\.conv"):
        apply(model, QuantizeStep(["temporal_conv.conv"], backend="pt2e"), clips)
    with pytest.raises(PipelineError, match="unknown quantize backend"):
        QuantizeStep(["encoder.stem.conv"], backend="onnx")


def test_pt2e_sqnr_covers_the_layers_it_quantizes(model, clips):
    results = layer_sqnr(model, clips[:2], backend="pt2e")
    expected = {
        name
        for name in quantizable_layers(model)
        if isinstance(model.get_submodule(name), torch.nn.Conv2d | torch.nn.Linear)
    }
    assert {r.name for r in results} == expected
    values = [r.sqnr_db for r in results]
    assert values == sorted(values, reverse=True) and 10 < values[-1] < values[0] < 80


@pytest.mark.parametrize(("name", "suffix"), [("exported-program", ".pt2"), ("torchscript", ".pt")])
def test_a_pt2e_int8_model_ships_and_loads_back_equal(report, clips, name, suffix, tmp_path):
    path = tmp_path / f"int8{suffix}"
    path.write_bytes(ARTIFACT_FORMATS[name].serialize(report.model, clips[:1]))
    loaded = autocompress.load_artifact(path)
    with torch.no_grad():
        expected = report.model(clips[:1])
        for got, want in zip(loaded(clips[:1]), expected, strict=True):
            torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_the_quantization_backend_follows_the_artifact_format():
    assert StudyConfig().quantize_backend == "fx"
    assert StudyConfig(artifact="aoti").quantize_backend == "pt2e"
    assert StudyConfig(quantization="pt2e").quantize_backend == "pt2e"
    with pytest.raises(UserError, match=r"torch\.export refuses"):
        StudyConfig(artifact="exported-program", quantization="fx")
    with pytest.raises(UserError, match="quantization: 'int4'"):
        StudyConfig(quantization="int4")
