"""Task accuracy of a repetition counter on QUVA-layout videos: MAE and OBO (lower is better).

MAE = mean over videos of |pred - true| / true; OBO = share of videos with |pred - true| > 1.
Predicted counts are rounded to whole repetitions before scoring (a count is an integer; the
raw sum of per-frame increments is kept in the report). Videos that cannot be decoded are
skipped with a warning and listed in the report, never scored as a count of 0.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm import tqdm

from autocompress.data.quva import QuvaDataset, Subset, UnreadableVideo
from autocompress.errors import UserError
from autocompress.models.counting import CountingConfig, count_video

__all__ = ["AccuracyReport", "SkippedVideo", "VideoCount", "evaluate_counts", "mae_obo"]

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoCount:
    name: str
    true: int
    pred: int  # rounded count, what the metrics score
    raw: float  # the counting procedure's sum before rounding


@dataclass(frozen=True)
class SkippedVideo:
    name: str
    reason: str


@dataclass(frozen=True)
class AccuracyReport:
    mae: float
    obo: float
    n_videos: int  # videos scored (skipped ones excluded)
    videos: tuple[VideoCount, ...]
    skipped: tuple[SkippedVideo, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)


def mae_obo(true: Sequence[int], pred: Sequence[float]) -> tuple[float, float]:
    """(MAE, OBO) of predicted against true counts; true counts must be positive."""
    true_array = np.asarray(true, dtype=np.float64)
    pred_array = np.asarray(pred, dtype=np.float64)
    if true_array.shape != pred_array.shape or true_array.ndim != 1 or not len(true_array):
        raise ValueError(f"need two equal, non-empty 1-D sequences, got {len(true)}, {len(pred)}")
    if (true_array <= 0).any():
        raise ValueError("true counts must be positive (MAE divides by them)")
    error = np.abs(pred_array - true_array)
    return float(np.mean(error / true_array)), float(np.mean(error > 1))


@contextlib.contextmanager
def _inference_mode(model: torch.nn.Module) -> Iterator[None]:
    """Eval mode (no dropout, running BN stats) for the duration; the caller's mode after."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def evaluate_counts(
    model: torch.nn.Module,
    dataset: QuvaDataset,
    subset: Subset | int | None = None,
    counting: CountingConfig = CountingConfig(),
    progress: bool = True,
    image_size: int | None = None,
) -> AccuracyReport:
    """Count every video of ``dataset`` (or of ``subset``) with ``model`` and score the counts.

    ``image_size`` defaults to ``model.config.image_size``; pass it for models without a
    RepNet config. Raises :class:`UserError` when no video could be decoded.
    """
    size = image_size or model.config.image_size
    items = dataset.select(subset)
    counted: list[VideoCount] = []
    skipped: list[SkippedVideo] = []
    with _inference_mode(model):
        for item in tqdm(items, desc="counting", unit="video", disable=not progress):
            try:
                video = dataset.frames(item, size)
            except UnreadableVideo as error:
                _logger.warning("skipping unreadable video %s", error)
                skipped.append(SkippedVideo(item.name, str(error)))
                continue
            raw = count_video(model, video, counting).count
            counted.append(VideoCount(item.name, item.count, round(raw), raw))
    if not counted:
        raise UserError(f"none of the {len(items)} videos could be decoded: {skipped[0].reason}")
    mae, obo = mae_obo([v.true for v in counted], [v.pred for v in counted])
    return AccuracyReport(mae, obo, len(counted), tuple(counted), tuple(skipped))
