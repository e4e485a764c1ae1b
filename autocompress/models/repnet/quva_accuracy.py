"""Task accuracy of a repetition counter on QUVA-layout videos: MAE and OBO (lower is better).

MAE = mean over videos of |pred - true| / true; OBO = share of videos with |pred - true| > 1.
Predicted counts are rounded to whole repetitions before scoring (a count is an integer; the
raw sum of per-frame increments is kept in the report). Every video of the selection is
scored or none is: open the dataset with ``verify`` so that unreadable videos are refused with
the folder's other problems before anything is counted; one that becomes unreadable after that
(replaced mid-run) stops the count with :class:`UnreadableVideo` naming it, since scoring a
smaller set than asked would give a different, silently incomparable metric.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm import tqdm

from autocompress.data.quva import QuvaDataset, Subset, VideoItem
from autocompress.models.repnet.counting import (
    CountingConfig,
    StrideOutputs,
    count_from_outputs,
    stride_outputs,
)

__all__ = [
    "AccuracyReport",
    "VideoCount",
    "count_videos",
    "evaluate_counts",
    "mae_obo",
    "runs_on_accelerator",
    "video_errors",
    "video_outputs",
]


@dataclass(frozen=True)
class VideoCount:
    name: str
    true: int
    pred: int  # rounded count, what the metrics score
    raw: float  # the counting procedure's sum before rounding


@dataclass(frozen=True)
class AccuracyReport:
    mae: float
    obo: float
    n_videos: int
    videos: tuple[VideoCount, ...]

    @classmethod
    def of(cls, counts: Sequence[VideoCount]) -> AccuracyReport:
        mae, obo = mae_obo([v.true for v in counts], [v.pred for v in counts])
        return cls(mae, obo, len(counts), tuple(counts))

    def to_dict(self) -> dict:
        return asdict(self)


def video_errors(true: Sequence[int], pred: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Per video: the relative count error (MAE's terms) and whether it is off by more than
    one (OBO's terms); true counts must be positive."""
    true_array = np.asarray(true, dtype=np.float64)
    pred_array = np.asarray(pred, dtype=np.float64)
    if true_array.shape != pred_array.shape or true_array.ndim != 1 or not len(true_array):
        raise ValueError(f"need two equal, non-empty 1-D sequences, got {len(true)}, {len(pred)}")
    if (true_array <= 0).any():
        raise ValueError("true counts must be positive (MAE divides by them)")
    error = np.abs(pred_array - true_array)
    return error / true_array, (error > 1) * 1.0


def mae_obo(true: Sequence[int], pred: Sequence[float]) -> tuple[float, float]:
    """(MAE, OBO) of predicted against true counts; true counts must be positive."""
    relative, off_by_more = video_errors(true, pred)
    return float(relative.mean()), float(off_by_more.mean())


def runs_on_accelerator(model: object) -> bool:
    """Whether ``model`` can move to a GPU: a float ``nn.Module``, not an int8 one (torch.ao's
    kernels are CPU kernels) nor a loaded artifact."""
    if not isinstance(model, torch.nn.Module) or isinstance(model, torch.jit.ScriptModule):
        return False
    if isinstance(model, torch.fx.GraphModule):
        return False  # PT2E's graphs hold CPU quantize/dequantize ops
    return not any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in model.modules())


@contextlib.contextmanager
def _inference_mode(model: torch.nn.Module) -> Iterator[None]:
    """Eval mode (no dropout, running BN stats) for the duration; the caller's mode after.
    A loaded artifact (frozen TorchScript, a compiled package) has no mode to switch."""
    was_training = getattr(model, "training", None)
    if was_training is None:
        yield
        return
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def video_outputs(
    model: torch.nn.Module,
    dataset: QuvaDataset,
    items: Sequence[VideoItem],
    counting: CountingConfig = CountingConfig(),
    progress: bool = True,
    image_size: int | None = None,
    device: str = "cpu",
) -> Iterator[tuple[VideoItem, int, dict[int, StrideOutputs]]]:
    """Each of ``items`` with its frame count and ``model``'s outputs at every stride counting
    reads (what a count, and a comparison with another model's outputs, are made of)."""
    size = image_size or model.config.image_size
    target = torch.device(device if runs_on_accelerator(model) else "cpu")
    if target.type != "cpu":
        model = copy.deepcopy(model).to(target)
    with _inference_mode(model):
        for item in tqdm(items, desc="counting", unit="video", disable=not progress):
            frames = dataset.frames(item, size).to(target)
            yield (
                item,
                len(frames),
                stride_outputs(model, frames, counting.strides, counting.batch_size),
            )


def count_videos(
    model: torch.nn.Module,
    dataset: QuvaDataset,
    items: Sequence[VideoItem],
    counting: CountingConfig = CountingConfig(),
    progress: bool = True,
    image_size: int | None = None,
    device: str = "cpu",
) -> tuple[VideoCount, ...]:
    """Count ``items`` of ``dataset`` with ``model`` (see :func:`evaluate_counts`)."""
    counted = []
    for item, frames, outputs in video_outputs(
        model, dataset, items, counting, progress, image_size, device
    ):
        raw = count_from_outputs(outputs, frames, counting).count
        counted.append(VideoCount(item.name, item.count, round(raw), raw))
    return tuple(counted)


def evaluate_counts(
    model: torch.nn.Module,
    dataset: QuvaDataset,
    subset: Subset | int | None = None,
    counting: CountingConfig = CountingConfig(),
    progress: bool = True,
    image_size: int | None = None,
    device: str = "cpu",
) -> AccuracyReport:
    """Count every video of ``dataset`` (or of ``subset``) with ``model`` and score the counts.

    ``image_size`` defaults to ``model.config.image_size``; pass it for models without a
    RepNet config. ``device`` runs a copy of a float model there (``cuda``); int8 models have
    CPU kernels only and count on the CPU. Raises :class:`UnreadableVideo` (a
    :class:`UserError`) for a video that does not decode, rather than scoring the others alone.
    """
    items = dataset.select(subset)
    return AccuracyReport.of(
        count_videos(model, dataset, items, counting, progress, image_size, device)
    )
