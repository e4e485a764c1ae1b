"""When a video or clip repeats and at what tempo; the annotations are read off this."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from autocompress.data.synthetic.style import SynthStyle


@dataclass(frozen=True)
class Timeline:
    """Repetitions over time: ``cycles`` completed at each frame (constant outside the action)."""

    cycles: np.ndarray  # T, float64
    period: np.ndarray  # T, frames per repetition, 0 where not periodic

    @property
    def rep_ends(self) -> np.ndarray:
        """Frame indices where each repetition completes (QUVA annotation)."""
        completed = np.floor(self.cycles + 1e-9).astype(np.int64)
        return np.flatnonzero(np.diff(completed, prepend=0) > 0)


def _timeline(num_frames: int, start: int, end: int, p0: float, p1: float) -> Timeline:
    """Tempo drifting linearly from period ``p0`` at ``start`` to ``p1`` at ``end``."""
    t = np.clip(np.arange(num_frames, dtype=np.float64), start, end) - start
    span = max(end - start, 1)
    f0, f1 = 1.0 / p0, 1.0 / p1
    cycles = f0 * t + (f1 - f0) * t * t / (2 * span)
    frequency = f0 + (f1 - f0) * t / span
    inside = (np.arange(num_frames) >= start) & (np.arange(num_frames) < end)
    return Timeline(cycles=cycles, period=np.where(inside, 1.0 / frequency, 0.0))


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def clip_timeline(
    rng: np.random.Generator, style: SynthStyle, num_frames: int, difficulty: float
) -> Timeline:
    """Tempo and placement of a training clip's action: periods within 2..32 (RepNet's classes)."""
    lead = 0
    if rng.random() < difficulty:
        lead = int(rng.uniform(0, style.lead * difficulty) * num_frames)
    action = num_frames - lead
    high = min(32.0, style.periods[1], action / 2)
    low = min(max(2.0, style.periods[0]), high)
    first = _log_uniform(rng, low, high)
    drift = 1 + rng.uniform(-1, 1) * style.tempo_drift * difficulty
    last = float(np.clip(first * drift, low, high))
    start = int(rng.integers(0, lead + 1))
    if rng.random() < 0.1 * difficulty:
        start = action = num_frames  # nothing repeats
    return _timeline(num_frames, start, min(start + action, num_frames), first, last)


def video_timeline(rng: np.random.Generator, style: SynthStyle) -> Timeline:
    """Length, tempo and placement of the action of one video (at least two repetitions)."""
    low, high = style.periods
    first = _log_uniform(rng, low, high)
    last = float(np.clip(first * (1 + rng.uniform(-1, 1) * style.tempo_drift), low, high))
    mean_period = 2 / (1 / first + 1 / last)
    lead_share = rng.uniform(0, style.lead)
    shortest, longest = style.frames
    most = max(2, min(50, int(longest * (1 - lead_share) / mean_period)))
    fewest = min(most, max(2, math.ceil(shortest * (1 - lead_share) / mean_period)))
    repetitions = int(rng.integers(fewest, most + 1))
    action = math.ceil((repetitions + rng.uniform(0, 0.7)) * mean_period)
    total = max(action, min(longest, max(shortest, round(action / (1 - lead_share)))))
    start = int(rng.integers(0, total - action + 1))
    return _timeline(total, start, start + action, first, last)
