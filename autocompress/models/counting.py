"""Turning RepNet's per-frame outputs into a repetition count (the official multi-stride demo).

:func:`count_from_outputs` is pure (logits in, count out) so it is tested without a model;
:func:`count_video` runs a model over a whole video, batching the 64-frame chunks of every
stride together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "CountResult",
    "CountingConfig",
    "StrideOutputs",
    "chunk_indices",
    "count_from_outputs",
    "count_video",
]


@dataclass(frozen=True)
class CountingConfig:
    """Defaults are the official demo's."""

    strides: tuple[int, ...] = (1, 2, 3, 4)
    periodicity_threshold: float = 0.5
    min_mean_score: float = 0.2
    min_period: int = 3
    median_filter: int = 5  # window width; 1 disables
    batch_size: int = 8

    def __post_init__(self) -> None:
        if not self.strides or min(self.strides) < 1:
            raise ValueError(f"strides must be positive integers, got {self.strides}")
        if self.median_filter < 1 or self.median_filter % 2 == 0:
            raise ValueError(f"median_filter must be an odd width >= 1, got {self.median_filter}")


@dataclass(frozen=True)
class StrideOutputs:
    """Model outputs for every frame of one strided video (chunk padding already dropped)."""

    period_logits: np.ndarray  # frames x max_period
    periodicity_logits: np.ndarray  # frames


@dataclass(frozen=True)
class CountResult:
    count: float
    stride: int
    mean_score: float
    per_frame_count: np.ndarray  # at the original frame rate; sums to ``count``
    per_frame_period: np.ndarray  # in original frames (stride already applied)
    per_frame_score: np.ndarray


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _median_filter(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded running median, as ``scipy.signal.medfilt`` computes it."""
    if width == 1:
        return values
    padded = np.pad(values, width // 2)
    return np.median(sliding_window_view(padded, width), axis=-1)


def _frame_scores(outputs: StrideOutputs, min_period: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame period (in strided frames) and score sqrt(periodicity * period confidence)."""
    probabilities = _softmax(outputs.period_logits.astype(np.float64))
    period = probabilities.argmax(axis=-1) + 1
    confidence = np.where(period < min_period, 0.0, probabilities.max(axis=-1))
    periodicity = 1.0 / (1.0 + np.exp(-outputs.periodicity_logits.astype(np.float64)))
    return period, np.sqrt(periodicity * confidence)


def count_from_outputs(
    outputs: Mapping[int, StrideOutputs], num_frames: int, config: CountingConfig
) -> CountResult:
    """Count repetitions in a video of ``num_frames`` frames from each stride's outputs."""
    scored = {stride: _frame_scores(out, config.min_period) for stride, out in outputs.items()}
    stride = max(scored, key=lambda s: float(scored[s][1].mean()))
    period, score = scored[stride]
    mean_score = float(score.mean())

    period = np.repeat(period, stride)[:num_frames] * stride
    score = _median_filter(np.repeat(score, stride)[:num_frames], config.median_filter)
    periodic = (score > config.periodicity_threshold) & (period >= config.min_period * stride)
    per_frame_count = np.where(periodic, 1.0 / period, 0.0)
    if mean_score < config.min_mean_score:
        per_frame_count = np.zeros_like(per_frame_count)
    return CountResult(
        count=float(per_frame_count.sum()),
        stride=stride,
        mean_score=mean_score,
        per_frame_count=per_frame_count,
        per_frame_period=period,
        per_frame_score=score,
    )


def chunk_indices(num_frames: int, stride: int, chunk_length: int) -> np.ndarray:
    """Frame indices of the chunks for one stride: chunks x chunk_length.

    The strided sequence is cut into whole chunks; indices past its end repeat its last frame.
    """
    strided = np.arange(0, num_frames, stride)
    num_chunks = -(-len(strided) // chunk_length)
    positions = np.minimum(np.arange(num_chunks * chunk_length), len(strided) - 1)
    return strided[positions].reshape(num_chunks, chunk_length)


@torch.no_grad()
def count_video(
    model: torch.nn.Module,
    video: torch.Tensor,
    config: CountingConfig = CountingConfig(),
    chunk_length: int = 64,
) -> CountResult:
    """Count repetitions in ``video`` (T x 3 x H x W, already resized and scaled to [-1, 1])."""
    num_frames = video.shape[0]
    if num_frames == 0:
        raise ValueError("cannot count an empty video")
    chunks = {s: chunk_indices(num_frames, s, chunk_length) for s in config.strides}
    schedule = [(s, row) for s, rows in chunks.items() for row in rows]
    period_parts: dict[int, list[np.ndarray]] = {s: [] for s in chunks}
    periodicity_parts: dict[int, list[np.ndarray]] = {s: [] for s in chunks}
    for start in range(0, len(schedule), config.batch_size):
        batch = schedule[start : start + config.batch_size]
        index = torch.from_numpy(np.stack([row for _, row in batch]))
        clips = video[index].permute(0, 2, 1, 3, 4)  # B x 3 x T x H x W
        period_logits, periodicity_logits, _ = model(clips)
        for (stride, _), period, periodicity in zip(
            batch, period_logits.float().numpy(), periodicity_logits.float().numpy(), strict=True
        ):
            period_parts[stride].append(period)
            periodicity_parts[stride].append(periodicity[:, 0])
    outputs = {}
    for stride in chunks:
        length = len(range(0, num_frames, stride))
        outputs[stride] = StrideOutputs(
            period_logits=np.concatenate(period_parts[stride])[:length],
            periodicity_logits=np.concatenate(periodicity_parts[stride])[:length],
        )
    return count_from_outputs(outputs, num_frames, config)
