"""Tucker-2, CP and SVD replacements: exact at full rank, requested ranks, VBMF, the cache."""

import numpy as np
import pytest
import torch
from torch import nn

from autocompress.backends.torchscript import script
from autocompress.compression import (
    PipelineError,
    TensorizeStep,
    apply,
    decomposable_layers,
)
from autocompress.compression.tensorize.factorize import cache_dir
from autocompress.compression.tensorize.vbmf import evbmf_rank, evbmf_threshold_x
from autocompress.models.repnet.network import build_repnet


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOCOMPRESS_CACHE", str(tmp_path / "cache"))


CONVS = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize(("method", "rank"), [("tucker", 6), ("cp", 80)])
def test_full_rank_replacement_computes_the_same_function(dims, method, rank):
    torch.manual_seed(dims)
    model = nn.Sequential(CONVS[dims](6, 5, 3, stride=2, padding=(2,) * dims, dilation=2)).eval()
    x = torch.randn(2, 6, *([9] * dims))
    expected = model(x)
    report = apply(model, TensorizeStep({"0": rank}, method=method))
    assert isinstance(model[0], nn.Sequential)
    assert all(type(m) in CONVS.values() for m in model[0])
    tolerance = 1e-4 if method == "tucker" else 0.1  # CP of a random 3-D kernel is approximate
    assert report.layers[0].relative_error < tolerance
    assert torch.allclose(model(x), expected, atol=10 * tolerance)
    script(model)


def test_linear_svd_and_rank_specs():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(40, 30), nn.ReLU(), nn.Linear(30, 20))
    report = apply(model, TensorizeStep({"0": 0.5, "2": 7}))
    assert [layer.rank for layer in report.layers] == [(15,), (7,)]
    assert model[0][0].out_features == 15 and model[2][1].in_features == 7
    assert all(layer.method == "svd" for layer in report.layers)


def test_vbmf_finds_planted_ranks():
    rng = np.random.default_rng(0)
    for rows, cols, rank in [(64, 200, 5), (300, 50, 7), (128, 128, 12)]:
        signal = rng.standard_normal((rows, rank)) @ rng.standard_normal((rank, cols))
        assert evbmf_rank(signal + 0.1 * rng.standard_normal((rows, cols))) == rank
    assert evbmf_rank(rng.standard_normal((128, 512))) == 1  # pure noise: nothing to keep
    # tau_bar(1) = 2.5129 in the paper, so x_bar(1) = (1 + 2.5129)(1 + 1/2.5129).
    assert evbmf_threshold_x(1.0) == pytest.approx(3.5129 * (1 + 1 / 2.5129), rel=1e-4)


def test_vbmf_ranks_on_a_low_rank_kernel():
    torch.manual_seed(0)
    conv = nn.Conv2d(32, 48, 3)
    out_basis, in_basis = torch.randn(48, 4), torch.randn(32, 6)
    core = torch.randn(4, 6, 3, 3)
    weight = torch.einsum("or,is,rskl->oikl", out_basis, in_basis, core)
    conv.weight.data = weight + 0.01 * torch.randn_like(weight)
    model = nn.Sequential(conv)
    report = apply(model, TensorizeStep({"0": "vbmf"}))
    assert report.layers[0].rank == (4, 6)
    assert report.layers[0].relative_error < 0.05


def test_repnet_tensorized_scripts_and_is_cached():
    torch.manual_seed(0)
    model = build_repnet("repnet-s").eval()
    names = decomposable_layers(model)
    assert "tsm_conv.conv" not in names  # one input channel: nothing to factorise
    assert "period_length_head.transformer_layer.self_attn.out_proj" not in names
    ranks = {
        "temporal_conv.conv": 0.1,
        "encoder.stages.2.blocks.1.conv2": 8,
        "periodicity_head.fc1": 16,
    }
    report = apply(model, TensorizeStep(ranks))
    assert report.layers[0].rank == (10, 13)
    assert model.temporal_conv.conv[1].weight.shape == (10, 13, 3, 3, 3)
    assert model.temporal_conv.conv[1].dilation == (3, 1, 1)
    assert model.encoder.stages[2].blocks[1].conv2[1].weight.shape == (8, 8, 3, 3)
    assert any(cache_dir().rglob("output.pkl"))
    clip = torch.rand(1, *model.config.input_shape) * 2 - 1
    assert script(model)(clip)[0].shape == (1, 64, 32)
    with pytest.raises(PipelineError, match="not a decomposable layer"):
        apply(model, TensorizeStep({"temporal_conv.conv": 4}))
