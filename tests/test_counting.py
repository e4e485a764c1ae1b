"""The multi-stride counting procedure on hand-built logits, and its driver over a video."""

import numpy as np
import pytest
import torch
from torch import fx, nn

from autocompress.compression.calibration import random_clips
from autocompress.compression.quantization.fx import FxBackend, quantized_engine
from autocompress.models.repnet.counting import (
    CountingConfig,
    StrideOutputs,
    chunk_indices,
    count_from_outputs,
    count_video,
    stride_outputs,
)
from autocompress.models.repnet.frame_features import frame_split

MAX_PERIOD = 32


def _outputs(frames: int, period: int, periodicity_logit: float, sharpness: float = 20.0):
    """Every frame: confident period ``period`` (in strided frames) and a periodicity logit."""
    logits = np.zeros((frames, MAX_PERIOD))
    logits[:, period - 1] = sharpness
    return StrideOutputs(logits, np.full(frames, periodicity_logit))


def test_known_period_gives_known_count():
    result = count_from_outputs({1: _outputs(64, 4, 10.0)}, 64, CountingConfig())
    assert result.stride == 1
    assert result.count == pytest.approx(16.0)
    assert result.per_frame_count.shape == (64,)


def test_stride_is_corrected_for():
    # 100 frames seen at stride 2 -> 50 strided frames with a period of 4 strided frames,
    # i.e. 8 original frames per repetition: 100 / 8 = 12.5 repetitions.
    result = count_from_outputs({2: _outputs(50, 4, 10.0)}, 100, CountingConfig())
    assert result.stride == 2
    assert result.count == pytest.approx(12.5)
    assert np.allclose(result.per_frame_period, 8)


def test_most_confident_stride_wins():
    outputs = {
        1: _outputs(120, 10, 10.0, sharpness=1.0),  # flat period distribution: low score
        3: _outputs(40, 5, 10.0),
    }
    result = count_from_outputs(outputs, 120, CountingConfig())
    assert result.stride == 3
    assert result.count == pytest.approx(120 / 15)


def _aliasing_outputs(stride_one_period: int):
    """Stride 1 reads ``stride_one_period`` frames fairly confidently; stride 3 reads 4 strided
    frames (12 original ones) more confidently, as it does when a short period aliases."""
    return {1: _outputs(120, stride_one_period, 10.0, sharpness=3.5), 3: _outputs(40, 4, 10.0)}


def test_official_procedure_takes_the_aliased_stride():
    result = count_from_outputs(_aliasing_outputs(4), 120, CountingConfig.official())
    assert result.stride == 3
    assert result.count == pytest.approx(120 / 12)


def test_alias_guard_rules_out_a_stride_too_coarse_for_the_period_seen():
    # Stride 3 cannot see a 4-frame period (it needs at least 3 x 3 = 9 frames).
    result = count_from_outputs(_aliasing_outputs(4), 120, CountingConfig(period_window=0))
    assert result.stride == 1
    assert result.count == pytest.approx(120 / 4)


def test_alias_guard_keeps_a_coarse_stride_that_can_see_the_period():
    # A 12-frame period at stride 1 is 4 strided frames at stride 3: no contradiction.
    result = count_from_outputs(_aliasing_outputs(12), 120, CountingConfig(period_window=0))
    assert result.stride == 3


def test_alias_guard_ignores_a_short_period_that_would_not_alias_to_the_reading():
    # Stride 1 reads 3 frames (noise, say); at stride 4 that would look like 12 frames, but
    # stride 4 reads 14 strided frames (56 original ones): a real long period, kept.
    outputs = {1: _outputs(120, 3, 10.0, sharpness=3.5), 4: _outputs(30, 14, 10.0)}
    result = count_from_outputs(outputs, 120, CountingConfig(period_window=0))
    assert result.stride == 4


def test_alias_guard_ignores_a_weakly_scored_smaller_stride():
    outputs = _aliasing_outputs(4)
    outputs[1] = _outputs(120, 4, -0.5, sharpness=3.5)  # mean score 0.44: under 0.5
    result = count_from_outputs(outputs, 120, CountingConfig(period_window=0))
    assert result.stride == 3


def test_sub_class_period_averages_the_classes_around_the_argmax():
    logits = np.full((90, MAX_PERIOD), -20.0)
    logits[:, 4] = logits[:, 5] = 10.0  # periods 5 and 6 equally likely: 5.5 frames
    logits[:, 20] = 9.0  # far from the argmax: outside the window, ignored
    outputs = {1: StrideOutputs(logits, np.full(90, 10.0))}
    averaged = count_from_outputs(outputs, 90, CountingConfig(period_window=2))
    assert averaged.count == pytest.approx(90 / 5.5)
    assert count_from_outputs(outputs, 90, CountingConfig.official()).count == pytest.approx(18)


def test_low_mean_score_counts_zero():
    result = count_from_outputs({1: _outputs(64, 4, -10.0)}, 64, CountingConfig())
    assert result.mean_score < 0.2
    assert result.count == 0.0


def test_periods_shorter_than_three_do_not_count():
    result = count_from_outputs({1: _outputs(64, 2, 10.0)}, 64, CountingConfig())
    assert result.count == 0.0


def test_non_periodic_frames_are_skipped_and_median_filter_removes_blips():
    outputs = _outputs(64, 4, 10.0)
    periodicity = outputs.periodicity_logits.copy()
    periodicity[:32] = -10.0  # first half not periodic
    periodicity[10] = 10.0  # a one-frame blip the median filter removes
    result = count_from_outputs(
        {1: StrideOutputs(outputs.period_logits, periodicity)}, 64, CountingConfig()
    )
    assert result.count == pytest.approx(32 / 4)
    unfiltered = count_from_outputs(
        {1: StrideOutputs(outputs.period_logits, periodicity)}, 64, CountingConfig(median_filter=1)
    )
    assert unfiltered.count == pytest.approx(33 / 4)


def test_chunk_indices_clip_to_last_frame():
    chunks = chunk_indices(100, 1, 64)
    assert chunks.shape == (2, 64)
    assert chunks[1, 35] == 99 and chunks[1, -1] == 99
    strided = chunk_indices(100, 3, 64)
    assert strided.shape == (1, 64)
    assert strided[0, 33] == 99 and strided[0, -1] == 99  # 34 strided frames, then padding


def test_short_video_is_padded_not_refused():
    assert chunk_indices(10, 1, 64).shape == (1, 64)


class _ConstantPeriodModel(nn.Module):
    """Reports a period of 5 frames and certain periodicity for every frame it is shown."""

    def forward(self, clips: torch.Tensor):
        batch, _, frames = clips.shape[:3]
        period = torch.zeros(batch, frames, MAX_PERIOD)
        period[..., 4] = 20.0
        return period, torch.full((batch, frames, 1), 10.0), torch.zeros(batch, frames, 8)


def test_count_video_assembles_chunks_of_every_stride():
    video = torch.zeros(130, 3, 16, 16)
    result = count_video(_ConstantPeriodModel(), video, CountingConfig(strides=(1,), batch_size=2))
    assert result.count == pytest.approx(130 / 5)
    # At stride 2 the model's period of 5 strided frames means 10 original frames.
    strided = count_video(_ConstantPeriodModel(), video, CountingConfig(strides=(2,)))
    assert strided.count == pytest.approx(13.0)


def test_count_video_runs_a_real_model():
    from autocompress.models.repnet.network import build_repnet

    model = build_repnet("repnet-s").eval()
    video = torch.rand(70, 3, 64, 64) * 2 - 1
    result = count_video(model, video, CountingConfig(strides=(1, 2)))
    assert result.per_frame_count.shape == (70,)
    assert result.count >= 0 and result.stride in (1, 2)


class _Chunkwise(nn.Module):
    """A RepNet seen as any model: counted chunk by chunk."""

    def __init__(self, repnet: nn.Module):
        super().__init__()
        self.repnet = repnet

    def forward(self, clips: torch.Tensor):
        return self.repnet(clips)


def _assert_each_frame_encoded_once_with_the_same_outputs(model: nn.Module, stem: nn.Module):
    video = torch.rand(150, 3, 64, 64) * 2 - 1
    encoded = []
    hook = stem.register_forward_hook(
        lambda _module, inputs, _output: encoded.append(len(inputs[0]))
    )
    try:
        shared = stride_outputs(model, video, (1, 2, 3, 4))
        assert sum(encoded) == 150  # every frame once, though chunks hold 448 frames in all
        chunkwise = stride_outputs(_Chunkwise(model), video, (1, 2, 3, 4))
        assert sum(encoded) == 150 + 448
    finally:
        hook.remove()
    for stride, outputs in shared.items():
        assert np.array_equal(outputs.period_logits, chunkwise[stride].period_logits)
        assert np.array_equal(outputs.periodicity_logits, chunkwise[stride].periodicity_logits)


def test_a_repnet_encodes_each_frame_once_with_the_same_outputs(random_repnet_s):
    _assert_each_frame_encoded_once_with_the_same_outputs(
        random_repnet_s, random_repnet_s.encoder.stem
    )


def test_an_int8_repnet_graph_encodes_each_frame_once_with_the_same_outputs(random_repnet_s):
    layers = [
        name
        for name, module in random_repnet_s.named_modules()
        if isinstance(module, nn.Conv2d | nn.Linear) and not name.startswith("periodicity")
    ]
    calibration = random_clips(random_repnet_s, 2)
    int8 = FxBackend().quantize(random_repnet_s, layers, "static", (calibration,))
    assert isinstance(int8, fx.GraphModule) and frame_split(int8) is not None
    with quantized_engine():
        _assert_each_frame_encoded_once_with_the_same_outputs(
            int8, int8.get_submodule("encoder.stem.conv")
        )


def test_a_graph_without_repnets_frame_regrouping_is_not_split():
    clips = fx.symbolic_trace(nn.Sequential(nn.Flatten(0, 1), nn.Unflatten(0, (2, 3))))
    assert frame_split(clips) is None
    assert frame_split(nn.Linear(3, 3)) is None


def test_invalid_configs_are_refused():
    with pytest.raises(ValueError):
        CountingConfig(strides=())
    with pytest.raises(ValueError):
        CountingConfig(median_filter=4)
    with pytest.raises(ValueError):
        CountingConfig(period_window=-1)
    with pytest.raises(ValueError, match="choose from default, official"):
        CountingConfig.named("best")
    assert CountingConfig.named("official") == CountingConfig.official()
