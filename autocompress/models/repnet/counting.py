"""Turning RepNet's per-frame outputs into a repetition count (the official multi-stride demo).
(Over 300 lines on purpose: one procedure, whose strides, scores and guards are read together.)

:func:`count_from_outputs` is pure (logits in, count out) so it is tested without a model;
:func:`count_video` runs a model over a whole video, batching the 64-frame chunks of every
stride together.

Two refinements of the official procedure are on by default (``CountingConfig.official()``
turns them off, to reproduce published numbers):

- *Alias guard.* At stride ``s`` a repetition shorter than ``min_period * s`` frames cannot be
  seen; it aliases to a slower one the model may read confidently (a 4-frame period at stride 3
  looks like a 4-strided-frame period running backwards, i.e. 12 frames). When a smaller stride
  whose mean score passes the periodicity threshold reads such a short period, and the larger
  stride reads about what that period would alias to, the larger stride is ruled out. The
  smallest stride is never ruled out.
- *Sub-class period.* The period is the probability-weighted mean of the classes around the
  argmax rather than the argmax alone, so a 13-frame period seen at stride 3 counts as 13, not
  12; models trained on soft period labels spread their mass that way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view

from autocompress.models.repnet.frame_features import frame_split

__all__ = [
    "PROCEDURES",
    "CountResult",
    "CountingConfig",
    "StrideOutputs",
    "chunk_indices",
    "count_from_outputs",
    "count_video",
    "stride_outputs",
]


PROCEDURES = ("default", "official")


@dataclass(frozen=True)
class CountingConfig:
    """The official demo's settings, plus the two refinements of the module docstring."""

    strides: tuple[int, ...] = (1, 2, 3, 4)
    periodicity_threshold: float = 0.5
    min_mean_score: float = 0.2
    min_period: int = 3
    median_filter: int = 5  # window width; 1 disables
    batch_size: int = 8
    alias_guard: bool = True
    period_window: int = 2  # period classes either side of the argmax averaged; 0: argmax

    def __post_init__(self) -> None:
        if not self.strides or min(self.strides) < 1:
            raise ValueError(f"strides must be positive integers, got {self.strides}")
        if self.median_filter < 1 or self.median_filter % 2 == 0:
            raise ValueError(f"median_filter must be an odd width >= 1, got {self.median_filter}")
        if self.period_window < 0:
            raise ValueError(f"period_window must be >= 0, got {self.period_window}")

    @classmethod
    def official(cls, **changes: object) -> CountingConfig:
        """The official demo exactly: best-scoring stride, argmax period."""
        return cls(**{"alias_guard": False, "period_window": 0, **changes})

    @classmethod
    def named(cls, procedure: str) -> CountingConfig:
        """``"default"`` or ``"official"``: the names studies and the CLI use."""
        if procedure not in PROCEDURES:
            raise ValueError(f"counting: {procedure!r}; choose from {', '.join(PROCEDURES)}")
        return cls.official() if procedure == "official" else cls()


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


@dataclass(frozen=True)
class _StrideReading:
    """One stride's per-frame view of a video, at the original frame rate."""

    stride: int
    mean_score: float  # over strided frames, what stride selection compares
    period: np.ndarray  # original frames per repetition (sub-class when period_window > 0)
    score: np.ndarray  # median-filtered
    periodic: np.ndarray  # bool: the frame counts

    def median_period(self) -> float:
        """The typical period of the frames it counts; inf when it counts none."""
        return float(np.median(self.period[self.periodic])) if self.periodic.any() else np.inf


def _local_mean_period(probabilities: np.ndarray, argmax: np.ndarray, window: int) -> np.ndarray:
    """Probability-weighted mean period over the classes within ``window`` of the argmax."""
    classes = np.arange(probabilities.shape[-1])
    near = np.abs(classes - argmax[:, None]) <= window
    weights = probabilities * near
    return (weights * (classes + 1)).sum(-1) / weights.sum(-1)


def _read_stride(
    stride: int, outputs: StrideOutputs, num_frames: int, config: CountingConfig
) -> _StrideReading:
    probabilities = _softmax(outputs.period_logits.astype(np.float64))
    argmax = probabilities.argmax(axis=-1)
    whole_period = argmax + 1  # strided frames
    confidence = np.where(whole_period < config.min_period, 0.0, probabilities.max(axis=-1))
    periodicity = 1.0 / (1.0 + np.exp(-outputs.periodicity_logits.astype(np.float64)))
    score = np.sqrt(periodicity * confidence)
    period = (
        _local_mean_period(probabilities, argmax, config.period_window)
        if config.period_window
        else whole_period.astype(np.float64)
    )

    def upsampled(values: np.ndarray) -> np.ndarray:
        return np.repeat(values, stride)[:num_frames]

    filtered = _median_filter(upsampled(score), config.median_filter)
    periodic = (filtered > config.periodicity_threshold) & (
        upsampled(whole_period) >= config.min_period
    )
    return _StrideReading(
        stride=stride,
        mean_score=float(score.mean()),
        period=upsampled(period) * stride,
        score=filtered,
        periodic=periodic,
    )


def _alias_period(period: float, stride: int) -> float:
    """The period (in original frames) that a repetition of ``period`` frames appears to have
    when every ``stride``-th frame is seen: the sampled frequency folded into [0, 1/2]."""
    cycles = stride / period  # cycles per strided frame
    folded = min(cycles % 1.0, 1.0 - cycles % 1.0)
    return stride / folded if folded > 1e-9 else np.inf


def _aliased(
    candidate: _StrideReading, readings: list[_StrideReading], config: CountingConfig
) -> bool:
    """Whether a convincing smaller stride reads a period ``candidate`` cannot represent, and
    ``candidate`` reads what that period would alias to (within a factor of 2).

    Convincing: its mean score passes the periodicity threshold. The alias check keeps a
    smaller stride that reads noise as a very short period from vetoing a stride that sees
    the real, long one.
    """
    reading = candidate.median_period()
    for other in readings:
        short = other.median_period()
        if not (
            other.stride < candidate.stride
            and other.mean_score > config.periodicity_threshold
            and short < config.min_period * candidate.stride
        ):
            continue
        alias = _alias_period(short, candidate.stride)
        if (
            np.isfinite(alias)
            and np.isfinite(reading)
            and max(alias, reading) <= 2 * min(alias, reading)
        ):
            return True
    return False


def _choose(readings: list[_StrideReading], config: CountingConfig) -> _StrideReading:
    ranked = sorted(readings, key=lambda r: (-r.mean_score, r.stride))
    if not config.alias_guard:
        return ranked[0]
    return next(r for r in ranked if not _aliased(r, readings, config))


def count_from_outputs(
    outputs: Mapping[int, StrideOutputs], num_frames: int, config: CountingConfig
) -> CountResult:
    """Count repetitions in a video of ``num_frames`` frames from each stride's outputs."""
    readings = [_read_stride(s, out, num_frames, config) for s, out in outputs.items()]
    chosen = _choose(readings, config)
    per_frame_count = np.where(chosen.periodic, 1.0 / chosen.period, 0.0)
    if chosen.mean_score < config.min_mean_score:
        per_frame_count = np.zeros_like(per_frame_count)
    return CountResult(
        count=float(per_frame_count.sum()),
        stride=chosen.stride,
        mean_score=chosen.mean_score,
        per_frame_count=per_frame_count,
        per_frame_period=chosen.period,
        per_frame_score=chosen.score,
    )


def chunk_indices(num_frames: int, stride: int, chunk_length: int) -> np.ndarray:
    """Frame indices of the chunks for one stride: chunks x chunk_length.

    The strided sequence is cut into whole chunks; indices past its end repeat its last frame.
    """
    strided = np.arange(0, num_frames, stride)
    num_chunks = -(-len(strided) // chunk_length)
    positions = np.minimum(np.arange(num_chunks * chunk_length), len(strided) - 1)
    return strided[positions].reshape(num_chunks, chunk_length)


ChunkRunner = Callable[[np.ndarray], tuple[torch.Tensor, ...]]  # frame indices B x T -> outputs


def _chunk_runner(
    model: torch.nn.Module, video: torch.Tensor, frames: np.ndarray, encoder_batch: int
) -> ChunkRunner:
    """Runs ``model`` on chunks of ``video`` given by their frame indices. A RepNet's encoder
    sees each frame alone, so its features are computed once for each of ``frames`` (every
    frame any chunk holds) and gathered per chunk: over the four strides a frame is in about
    2.7 chunks, and the encoder is three quarters of the model's work. Other models (imported
    ones) run on the chunks themselves."""

    def to_device(index: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(index).to(video.device)

    split = frame_split(model)
    if split is None:
        return lambda index: model(video[to_device(index)].permute(0, 2, 1, 3, 4))
    used = np.unique(frames)
    features = torch.cat(
        [
            split.encode(video[to_device(part)])
            for part in np.split(used, range(encoder_batch, len(used), encoder_batch))
        ]
    )
    row_of = np.zeros(video.shape[0], dtype=np.int64)
    row_of[used] = np.arange(len(used))
    return lambda index: split.head(features[to_device(row_of[index])])


@torch.no_grad()
def stride_outputs(
    model: torch.nn.Module,
    video: torch.Tensor,
    strides: tuple[int, ...],
    batch_size: int = 8,
    chunk_length: int = 64,
) -> dict[int, StrideOutputs]:
    """The model's outputs for every frame of ``video`` seen at each stride.

    ``video`` is T x 3 x H x W, already resized and scaled to [-1, 1], on the device the
    model runs on; the 64-frame chunks of all strides are batched together.
    """
    num_frames = video.shape[0]
    if num_frames == 0:
        raise ValueError("cannot count an empty video")
    chunks = {s: chunk_indices(num_frames, s, chunk_length) for s in strides}
    schedule = [(s, row) for s, rows in chunks.items() for row in rows]
    run = _chunk_runner(
        model, video, np.concatenate(list(chunks.values()), axis=None), batch_size * chunk_length
    )
    period_parts: dict[int, list[np.ndarray]] = {s: [] for s in chunks}
    periodicity_parts: dict[int, list[np.ndarray]] = {s: [] for s in chunks}
    for start in range(0, len(schedule), batch_size):
        batch = schedule[start : start + batch_size]
        period_logits, periodicity_logits, _ = run(np.stack([row for _, row in batch]))
        periods = period_logits.float().cpu().numpy()
        periodicities = periodicity_logits.float().cpu().numpy()
        for (stride, _), period, periodicity in zip(batch, periods, periodicities, strict=True):
            period_parts[stride].append(period)
            periodicity_parts[stride].append(periodicity[:, 0])
    outputs = {}
    for stride in chunks:
        length = len(range(0, num_frames, stride))
        outputs[stride] = StrideOutputs(
            period_logits=np.concatenate(period_parts[stride])[:length],
            periodicity_logits=np.concatenate(periodicity_parts[stride])[:length],
        )
    return outputs


def count_video(
    model: torch.nn.Module,
    video: torch.Tensor,
    config: CountingConfig = CountingConfig(),
    chunk_length: int = 64,
) -> CountResult:
    """Count repetitions in ``video`` (T x 3 x H x W, already resized and scaled to [-1, 1])."""
    outputs = stride_outputs(model, video, config.strides, config.batch_size, chunk_length)
    return count_from_outputs(outputs, video.shape[0], config)
