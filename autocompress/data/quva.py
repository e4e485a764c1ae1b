"""Repetition-counting videos in the QUVA layout: ``videos/NAME.<any>`` + ``annotations/NAME.npy``.

Each annotation holds the frame indices where a repetition ends; its length is the true count.
The same reader serves real QUVA and the synthetic sets of :mod:`autocompress.data.synthetic`.

What counts as bad input, and what happens:

- missing or empty directory, a video without annotation or the reverse, an annotation that is
  not a 1-D array of non-negative integer frame indices, an annotation with no repetition (MAE
  divides by the true count, so such a video cannot be scored): :class:`UserError` when the
  dataset is opened, naming the files. Scoring a partial or mislabelled set would give metrics
  that look valid and are not.
- a video FFmpeg cannot decode (corrupt, cut off, no video stream): :class:`UnreadableVideo`
  when its frames are asked for; the evaluator skips it with a warning naming the file and
  reports it as skipped, never as a count of 0.
- a video shorter than RepNet's 64 frames is fine: counting pads by repeating the last frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from autocompress.data.cache import VideoCache
from autocompress.data.decode import UnreadableVideo, decode_video, to_model_input
from autocompress.errors import UserError

__all__ = ["QuvaDataset", "Subset", "UnreadableVideo", "VideoItem", "read_count", "scan"]

VIDEOS, ANNOTATIONS = "videos", "annotations"


@dataclass(frozen=True)
class VideoItem:
    name: str
    video: Path
    annotation: Path
    count: int  # true number of repetitions


@dataclass(frozen=True)
class Subset:
    """A cheap early estimate: the first ``size`` videos, or a fixed random ``size`` of them."""

    size: int
    seed: int | None = None  # None: the first ``size`` in name order

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"a subset needs at least one video, got {self.size}")


def read_count(path: Path) -> int:
    """The number of repetitions an annotation file records, or :class:`UserError` why not."""
    try:
        ends = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise UserError(f"cannot read annotation {path}: {error}") from error
    integral = isinstance(ends, np.ndarray) and (
        np.issubdtype(ends.dtype, np.integer)
        or (np.issubdtype(ends.dtype, np.floating) and bool(np.all(np.mod(ends, 1) == 0)))
    )
    if not integral or ends.ndim != 1:
        found = f"shape {ends.shape}, dtype {ends.dtype}" if isinstance(ends, np.ndarray) else "?"
        raise UserError(
            f"annotation {path} must be a 1-D array of integer frame indices (found {found})"
        )
    if len(ends) == 0:
        raise UserError(
            f"annotation {path} records no repetition; MAE divides by the true count, "
            "so remove this video from the set"
        )
    if ends.min() < 0:
        raise UserError(f"annotation {path} holds negative frame indices")
    return len(ends)


def _visible_files(folder: Path, suffix: str | None = None) -> dict[str, Path]:
    """Files by name without extension, skipping hidden ones (and half-written temporaries)."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        if suffix is not None and path.suffix != suffix:
            continue
        if path.stem in found:
            raise UserError(
                f"two files named {path.stem!r} in {folder}: {found[path.stem].name}, {path.name}"
            )
        found[path.stem] = path
    return found


def _names(names: list[str], limit: int = 8) -> str:
    return ", ".join(names[:limit]) + (
        f" (+{len(names) - limit} more)" if len(names) > limit else ""
    )


def scan(root: Path) -> tuple[VideoItem, ...]:
    """Every matched video/annotation pair under ``root``, in name order, checked."""
    if not root.is_dir():
        raise UserError(f"data directory not found: {root}")
    missing = [f"{name}/" for name in (VIDEOS, ANNOTATIONS) if not (root / name).is_dir()]
    if missing:
        raise UserError(
            f"{root} lacks {' and '.join(missing)}: expected the QUVA layout "
            f"{VIDEOS}/NAME.mp4 + {ANNOTATIONS}/NAME.npy (make one with `autocompress data synth`)"
        )
    videos = _visible_files(root / VIDEOS)
    annotations = _visible_files(root / ANNOTATIONS, ".npy")
    if not videos and not annotations:
        raise UserError(f"no videos in {root / VIDEOS}")
    problems = []
    if lonely := sorted(set(videos) - set(annotations)):
        problems.append(f"videos without annotation: {_names(lonely)}")
    if orphans := sorted(set(annotations) - set(videos)):
        problems.append(f"annotations without video: {_names(orphans)}")
    if problems:
        raise UserError(f"{root}: " + "; ".join(problems))
    return tuple(
        VideoItem(name, videos[name], annotations[name], read_count(annotations[name]))
        for name in sorted(videos)
    )


class QuvaDataset:
    """The videos of one directory; frames come from the cache when they can.

    ``cache``: True for the default cache directory (see :func:`default_cache_dir`), a path for
    another one, False to decode every time.
    """

    def __init__(self, root: str | Path, cache: bool | str | Path = True):
        self.root = Path(root).expanduser()
        self.items = scan(self.root)
        if cache is False:
            self.cache = None
        else:
            self.cache = VideoCache(None if cache is True else Path(cache).expanduser())

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[VideoItem]:
        return iter(self.items)

    def select(self, subset: Subset | int | None = None) -> tuple[VideoItem, ...]:
        """The videos of ``subset`` (an int means the first that many); all of them for None."""
        if subset is None:
            return self.items
        if isinstance(subset, int):
            subset = Subset(subset)
        if subset.size >= len(self.items):
            return self.items
        if subset.seed is None:
            return self.items[: subset.size]
        picks = np.random.default_rng(subset.seed).choice(len(self.items), subset.size, False)
        return tuple(self.items[i] for i in sorted(picks))

    def frames(self, item: VideoItem, size: int) -> torch.Tensor:
        """``item``'s frames resized to ``size``: float T x 3 x size x size in [-1, 1]."""
        if self.cache is None:
            return to_model_input(decode_video(item.video, size))
        return to_model_input(self.cache.load(item.video, size, decode_video))
