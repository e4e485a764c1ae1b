"""The fidelity signal reads 0 for the uncompressed model and more the more a model is damaged:
RepNet's (autocompress.models.repnet.fidelity) and the default for any model's outputs
(autocompress.evaluators.fidelity)."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from autocompress.evaluators.fidelity import output_divergence
from autocompress.models.repnet.clips import CurriculumConfig, training_batches
from autocompress.models.repnet.fidelity import fidelity, video_clips
from autocompress.models.repnet.weights import load_model

NOISE = (0.02, 0.1, 0.3)  # relative weight noise, smallest first


def _perturbed(model: nn.Module, scale: float, seed: int = 0) -> nn.Module:
    """A copy whose every weight moves by ``scale`` times its own spread, at random."""
    generator = torch.Generator().manual_seed(seed)
    noisy = copy.deepcopy(model)
    with torch.no_grad():
        for parameter in noisy.parameters():
            if parameter.numel() > 1:
                noise = torch.randn(parameter.shape, generator=generator)
                parameter.add_(noise * parameter.std() * scale)
    return noisy


@pytest.fixture(scope="module")
def repnet():
    torch.set_num_threads(1)
    return load_model("repnet-s")[0].eval()


@pytest.fixture(scope="module")
def clips():
    full_difficulty = CurriculumConfig(start=1.0, ramp_steps=1)
    return next(training_batches(7, 0, 3, 64, 64, full_difficulty, workers=0)).clips


def test_repnet_reads_zero_for_the_same_model(repnet, clips):
    divergences = fidelity(repnet, copy.deepcopy(repnet), clips)
    assert divergences.shape == (len(clips),)
    assert np.abs(divergences).max() < 1e-6


def test_repnet_reads_more_the_more_a_model_is_damaged(repnet, clips):
    means = [fidelity(repnet, _perturbed(repnet, scale), clips).mean() for scale in NOISE]
    assert means[0] > 1e-4  # a small perturbation already reads
    assert means == sorted(means) and len(set(means)) == len(means), means


def test_repnet_period_damage_alone_reads(repnet, clips):
    """A head that sees through one period class less: only its period distribution moves."""
    damaged = copy.deepcopy(repnet)
    with torch.no_grad():
        damaged.period_length_head.out.bias[5] -= 3.0
    assert fidelity(repnet, damaged, clips).min() > 0


def test_video_clips_are_counting_chunks_at_strides_one_and_two():
    frames = torch.arange(100, dtype=torch.float32).reshape(100, 1, 1, 1).expand(100, 3, 2, 2)
    clips = video_clips(frames)
    assert clips.shape == (3, 3, 64, 2, 2)  # 2 chunks at stride 1, 1 at stride 2
    assert clips[0, 0, :, 0, 0].tolist() == list(range(64))
    assert clips[1, 0, :3, 0, 0].tolist() == [64, 65, 66]
    assert clips[1, 0, -1, 0, 0].item() == 99  # past the end: the last frame repeated
    assert clips[2, 0, :3, 0, 0].tolist() == [0, 2, 4]


class _TwoHeads(nn.Module):
    """A tuple-output model: class logits and a feature vector."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 16), nn.ReLU())
        self.classes = nn.Linear(16, 5)
        self.features = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.body(x)
        return self.classes(hidden), self.features(hidden)


@torch.no_grad()
def test_any_model_reads_zero_then_more_the_more_it_is_damaged():
    torch.manual_seed(0)
    model = _TwoHeads().eval()
    inputs = torch.randn(32, 8)
    reference = model(inputs)
    same = output_divergence(reference, copy.deepcopy(model)(inputs))
    assert same.shape == (32,)
    assert same.abs().max().item() == 0.0
    means = [
        output_divergence(reference, _perturbed(model, scale)(inputs)).mean().item()
        for scale in NOISE
    ]
    assert 0 < means[0] < means[1] < means[2], means


def test_named_logits_are_compared_as_distributions():
    """A shift of every logit leaves the softmax, so the KL reads 0; the same shift of another
    output reads as a squared difference."""
    logits, hidden = torch.randn(4, 6), torch.randn(4, 2, 3)
    reference = {"logits": logits, "hidden_states": hidden}
    shifted_logits = {**reference, "logits": logits + 2.0}
    assert output_divergence(reference, shifted_logits).abs().max().item() < 1e-12
    shifted_hidden = {**reference, "hidden_states": hidden + 2.0}
    assert output_divergence(reference, shifted_hidden).min().item() > 0.1


def test_outputs_of_other_structure_are_refused():
    with pytest.raises(ValueError, match="structure"):
        output_divergence((torch.zeros(2, 3),), (torch.zeros(2, 3), torch.zeros(2, 3)))
    with pytest.raises(ValueError, match=r"changed shape: \(2, 3\) -> \(2, 4\)"):
        output_divergence(torch.zeros(2, 3), torch.zeros(2, 4))
