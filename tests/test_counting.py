"""The multi-stride counting procedure on hand-built logits, and its driver over a video."""

import numpy as np
import pytest
import torch
from torch import nn

from autocompress.models.counting import (
    CountingConfig,
    StrideOutputs,
    chunk_indices,
    count_from_outputs,
    count_video,
)

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
    assert np.all(result.per_frame_period == 8)


def test_most_confident_stride_wins():
    outputs = {
        1: _outputs(120, 10, 10.0, sharpness=1.0),  # flat period distribution: low score
        3: _outputs(40, 5, 10.0),
    }
    result = count_from_outputs(outputs, 120, CountingConfig())
    assert result.stride == 3
    assert result.count == pytest.approx(120 / 15)


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
    from autocompress.models.repnet import build_repnet

    model = build_repnet("repnet-s").eval()
    video = torch.rand(70, 3, 64, 64) * 2 - 1
    result = count_video(model, video, CountingConfig(strides=(1, 2)))
    assert result.per_frame_count.shape == (70,)
    assert result.count >= 0 and result.stride in (1, 2)


def test_invalid_configs_are_refused():
    with pytest.raises(ValueError):
        CountingConfig(strides=())
    with pytest.raises(ValueError):
        CountingConfig(median_filter=4)
