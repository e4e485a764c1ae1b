"""Pipelines: YAML round trip, refused orders, P->T->Q on repnet-s, the full preset, a small CNN
and a small transformer encoder."""

import pytest
import torch
from torch import nn

from autocompress.backends import ARTIFACT_FORMATS, load_artifact
from autocompress.backends.torchscript import script
from autocompress.compression import (
    Pipeline,
    PipelineError,
    PruneStep,
    QuantizeStep,
    TensorizeStep,
    apply,
    apply_pipeline,
    decomposable_layers,
    prunable_groups,
    quantizable_layers,
)
from autocompress.compression.calibration import random_clips
from autocompress.models.repnet.network import build_repnet
from autocompress.timing import torch_threads


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOCOMPRESS_CACHE", str(tmp_path / "cache"))


class TinyCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
        )
        self.classifier = nn.Linear(32, 10)

    def forward(self, x):
        return self.classifier(self.features(x).mean((2, 3)))


class TinyTransformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(8, 32)
        self.encoder = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
        self.hidden = nn.Linear(32, 32)
        self.head = nn.Linear(32, 5)

    def forward(self, x):
        return self.head(torch.relu(self.hidden(self.encoder(self.embed(x)))))


PTQ = Pipeline(
    [
        PruneStep({"encoder.stages.1": 0.5, "temporal_conv": 0.64, "periodicity_head.mlp": 0.5}),
        TensorizeStep(
            {
                "temporal_conv.conv": 8,
                "encoder.stages.2.blocks.0.conv2": "vbmf",
                "period_length_head.input_projection": 16,
            },
            method="cp",
        ),
        QuantizeStep(
            [
                "temporal_conv.conv.0",
                "temporal_conv.conv.4",
                "encoder.stem.conv",
                "period_length_head.input_projection.1",
            ]
        ),
    ]
)


def test_yaml_round_trip():
    text = PTQ.to_yaml()
    assert "prune:" in text and "method: cp" in text
    assert Pipeline.from_yaml(text) == PTQ
    assert Pipeline.from_dict(PTQ.to_dict()) == PTQ
    for bad, reason in [
        ("steps: [{squash: {}}]", "unknown technique"),
        ("steps: [{prune: {ratios: {a: 0.5}, speed: 2}}]", "speed"),
        ("steps: [{tensorize: {ranks: {a: 0}}}]", "rank of 'a'"),
        ("[1, 2", "not valid YAML"),
    ]:
        with pytest.raises(PipelineError, match=reason):
            Pipeline.from_yaml(bad)


def test_impossible_orders_and_names_are_refused_up_front():
    model = build_repnet("repnet-s")
    q_then_p = Pipeline([QuantizeStep(["temporal_conv.conv"]), PruneStep({"temporal_conv": 0.5})])
    with pytest.raises(PipelineError, match=r"step 2 \(prune\) follows quantize"):
        q_then_p.validate()
    q_then_t = Pipeline([QuantizeStep(["fc"]), TensorizeStep({"fc": 4})])
    with pytest.raises(PipelineError, match=r"tensorize.*follows quantize"):
        apply_pipeline(model, q_then_t)
    renamed = Pipeline(
        [TensorizeStep({"temporal_conv.conv": 4}), QuantizeStep(["temporal_conv.conv"])]
    )
    with pytest.raises(PipelineError, match=r"factorised by an earlier tensorize.*conv\.0"):
        renamed.validate(model)
    with pytest.raises(PipelineError, match="unknown prune group"):
        Pipeline([PruneStep({"tsm_conv": 0.5})]).validate(model)
    with pytest.raises(PipelineError, match="calibration"):
        apply_pipeline(model, Pipeline([QuantizeStep(["temporal_conv.conv"])]))
    PTQ.validate(model)  # names that only exist after earlier steps are accepted


def test_ptq_on_repnet_s(tmp_path):
    torch.manual_seed(0)
    model = build_repnet("repnet-s").eval()
    clips = random_clips(model, 2)
    compressed, (pruned, tensorized, quantized) = apply_pipeline(model, PTQ, clips)
    assert model.temporal_conv.conv.out_channels == 96  # the input model is untouched
    assert {layer.name: layer.channels_after for layer in pruned.layers}["temporal_conv.conv"] == 35
    assert {layer.name: layer.rank for layer in tensorized.layers}["temporal_conv.conv"] == (8,)
    assert all(layer.quantized for layer in quantized.layers)
    torchscript = ARTIFACT_FORMATS["torchscript"]
    data = torchscript.serialize(compressed, clips[:1])
    assert len(data) < len(torchscript.serialize(model, clips[:1]))
    (tmp_path / "model.pt").write_bytes(data)
    loaded = load_artifact(tmp_path / "model.pt")  # frozen and optimised, as timed
    assert loaded(clips[:1])[2].shape == (1, 64, 35)


@pytest.mark.slow
def test_ptq_on_the_full_preset():
    """The case study's pipeline on the 25.7 M-parameter model: the Conv3d really shrinks."""
    torch.manual_seed(0)
    model = build_repnet("repnet").eval()
    clip = random_clips(model, 1)
    pipeline = Pipeline(
        [
            PruneStep({"encoder.stages.2": 0.35, "temporal_conv": 0.64}),
            TensorizeStep({"temporal_conv.conv": 0.1, "period_length_head.input_projection": 0.1}),
            QuantizeStep(["temporal_conv.conv.1", "encoder.stages.2.blocks.2.conv2"]),
        ]
    )
    with torch_threads(1):
        compressed, (pruned, tensorized, quantized) = apply_pipeline(model, pipeline, clip)
    conv3d = {layer.name: layer for layer in pruned.layers}["temporal_conv.conv"]
    assert (conv3d.channels_before, conv3d.channels_after) == (512, 184)
    # Tucker ranks are fractions of the pruned widths: 0.1 x 184 out, 0.1 x 666 in.
    assert [layer.rank for layer in tensorized.layers] == [(19, 67), (52,)]
    assert [layer.quantized for layer in quantized.layers] == [True, True]
    with torch_threads(1):
        period, _, embeddings = script(compressed)(clip)
    assert period.shape == (1, 64, 32) and embeddings.shape == (1, 64, 184)


def test_small_cnn_every_step_and_ptq():
    torch.manual_seed(0)
    model = TinyCNN().eval()
    images = torch.randn(4, 3, 16, 16)
    assert list(prunable_groups(model)) == ["features.0", "features.3"]
    pipeline = Pipeline(
        [
            PruneStep({"features.0": 0.5}),
            TensorizeStep({"features.3": 4, "classifier": 3}),
            QuantizeStep(["features.0", "features.3.1", "classifier.0"]),
        ]
    )
    compressed, reports = apply_pipeline(model, pipeline, images)
    assert reports[0].layers[0].channels_after == 8
    assert compressed.get_submodule("features.3.1").weight().shape == (4, 4, 3, 3)
    assert all(layer.quantized for layer in reports[2].layers)
    assert script(compressed)(images).shape == (4, 10)


def test_small_transformer_encoder():
    """PyTorch's encoder layer reads its children's weights directly: its Linears are neither
    factorised nor quantized; its residual width (tied to attention) is refused by pruning."""
    torch.manual_seed(0)
    model = TinyTransformer().eval()
    tokens = torch.randn(2, 6, 8)
    assert "encoder.linear1" in prunable_groups(model)
    assert "encoder.linear1" not in decomposable_layers(model)
    assert "encoder.linear1" not in quantizable_layers(model)
    with pytest.raises(PipelineError, match="MultiheadAttention embed_dim"):
        apply(model, PruneStep({"embed": 0.5}), tokens)
    pipeline = Pipeline(
        [
            PruneStep({"encoder.linear1": 0.5, "hidden": 0.25}),
            TensorizeStep({"hidden": 8, "head": 2}),
            QuantizeStep(["hidden.0", "hidden.1", "head.1"], mode="dynamic"),
        ]
    )
    compressed, reports = apply_pipeline(model, pipeline, tokens)
    assert model.encoder.linear1.out_features == 64
    assert compressed.encoder.linear1.out_features == 32
    assert [layer.rank for layer in reports[1].layers] == [(8,), (2,)]
    assert all(layer.quantized for layer in reports[2].layers)
    assert script(compressed)(tokens).shape == (2, 6, 5)
