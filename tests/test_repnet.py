"""RepNet shapes, parameter counts, and that scripting and torch.export agree with eager."""

import pytest
import torch

from autocompress.backends.torchscript import script
from autocompress.models.repnet.network import PRESETS, RepNet, build_repnet


def _clip(model: RepNet, batch: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.rand(batch, *model.config.input_shape, generator=generator) * 2 - 1


def test_full_preset_has_the_authors_parameter_count():
    model = build_repnet("repnet")
    parameters = sum(p.numel() for p in model.parameters())
    assert 25.6e6 <= parameters <= 25.8e6
    # The case study: the temporal conv holds about half of the weights.
    temporal = sum(p.numel() for p in model.temporal_conv.parameters())
    assert 14.1e6 <= temporal <= 14.3e6
    assert 97 <= parameters * 4 / 2**20 <= 99


def test_small_preset_is_about_one_million_parameters():
    parameters = sum(p.numel() for p in build_repnet("repnet-s").parameters())
    assert 0.5e6 <= parameters <= 1.5e6


@pytest.mark.parametrize("preset", list(PRESETS))
def test_output_shapes(preset):
    model = build_repnet(preset).eval()
    config = model.config
    with torch.no_grad():
        period, periodicity, embeddings = model(
            _clip(model, batch=2 if preset == "repnet-s" else 1)
        )
    batch = period.shape[0]
    assert period.shape == (batch, config.num_frames, config.max_period)
    assert periodicity.shape == (batch, config.num_frames, 1)
    assert embeddings.shape == (batch, config.num_frames, config.embedding_dim)
    assert config.max_period == 32


@pytest.mark.parametrize("preset", list(PRESETS))
def test_script_and_export_match_eager(preset):
    model = build_repnet(preset).eval()
    clip = _clip(model)
    with torch.no_grad():
        eager = model(clip)
        scripted = script(model)(clip)
        exported = torch.export.export(model, (clip,)).module()(clip)
    for reference, other in ((eager, scripted), (eager, exported)):
        for a, b in zip(reference, other, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_wrong_frame_count_is_refused_clearly():
    model = build_repnet("repnet-s").eval()
    clip = torch.zeros(1, 3, 32, 64, 64)
    with pytest.raises(AssertionError, match="fixed number of frames"):
        model(clip)


def test_tsm_rows_are_distributions():
    model = build_repnet("repnet").eval()
    embeddings = torch.randn(2, 64, 512)
    tsm = model.tsm(embeddings)
    assert tsm.shape == (2, 1, 64, 64)
    torch.testing.assert_close(tsm.sum(-1), torch.ones(2, 1, 64))
    # Each frame is most similar to itself.
    assert torch.equal(tsm[:, 0].argmax(-1), torch.arange(64).expand(2, 64))
