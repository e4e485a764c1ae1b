"""Repetition-counting videos in the QUVA layout: ``videos/NAME.<any>`` + ``annotations/NAME.npy``.

Each annotation holds the frame indices where a repetition ends; its length is the true count.
The same reader serves real QUVA and the synthetic sets of :mod:`autocompress.data.synthetic`.

What counts as bad input, and what happens when a dataset is opened:

- no data set at all (a missing directory, no ``videos/`` or ``annotations/`` in it, not one
  video or not one annotation): :class:`UserError` in one line.
- problems of single files are all collected, then reported in ONE :class:`UserError` with a
  line per problem naming the file, so that they can be fixed in one go: a video without
  annotation or the reverse, two files of one name, an annotation that is not a 1-D array of
  non-negative integer frame indices, an annotation with no repetition (MAE divides by the true
  count, so such a video cannot be scored), and, when opened with ``verify``, a video FFmpeg
  cannot decode (corrupt, cut off, no video stream). Nothing is skipped: scoring a partial or
  mislabelled set would give metrics that look valid and are not.
- a video shorter than RepNet's 64 frames is fine: counting pads by repeating the last frame.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from autocompress.data.cache import VideoCache
from autocompress.data.decode import UnreadableVideo, decode_video, to_model_input
from autocompress.errors import UserError

__all__ = [
    "Problem",
    "QuvaDataset",
    "Subset",
    "UnreadableVideo",
    "VideoItem",
    "read_count",
    "scan",
]

VIDEOS, ANNOTATIONS = "videos", "annotations"

Problem = tuple[Path, str]  # a file, and what is wrong with it


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
    """The number of repetitions an annotation file records.

    Raises ValueError saying why the file cannot be scored; the caller names the file, so that
    one report can list many.
    """
    try:
        ends = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise ValueError(f"cannot read ({error})") from error
    integral = isinstance(ends, np.ndarray) and (
        np.issubdtype(ends.dtype, np.integer)
        or (np.issubdtype(ends.dtype, np.floating) and bool(np.all(np.mod(ends, 1) == 0)))
    )
    if not integral or ends.ndim != 1:
        found = f"shape {ends.shape}, dtype {ends.dtype}" if isinstance(ends, np.ndarray) else "?"
        raise ValueError(f"must be a 1-D array of integer frame indices (found {found})")
    if len(ends) == 0:
        raise ValueError(
            "records no repetition; MAE divides by the true count, so remove this video"
        )
    if ends.min() < 0:
        raise ValueError("holds negative frame indices")
    return len(ends)


def _visible_files(
    folder: Path, suffix: str | None = None
) -> tuple[dict[str, Path], list[Problem]]:
    """Files by name without extension, skipping hidden ones (and half-written temporaries);
    a second file of a taken name is a problem, as it is unclear which one is meant."""
    found: dict[str, Path] = {}
    problems: list[Problem] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        if suffix is not None and path.suffix != suffix:
            continue
        if path.stem in found:
            problems.append((path, f"same name as {found[path.stem].name}; keep one of them"))
        else:
            found[path.stem] = path
    return found, problems


def _unmatched(videos: dict[str, Path], annotations: dict[str, Path]) -> list[Problem]:
    """A problem for each video without annotation and each annotation without video."""
    return [
        (videos[name], f"no annotation (expected {ANNOTATIONS}/{name}.npy)")
        for name in sorted(set(videos) - set(annotations))
    ] + [
        (annotations[name], f"no video named {name} in {VIDEOS}/")
        for name in sorted(set(annotations) - set(videos))
    ]


def _counts(annotations: dict[str, Path]) -> tuple[dict[str, int], list[Problem]]:
    """The true count of every readable annotation, and a problem for every other one."""
    counts: dict[str, int] = {}
    problems: list[Problem] = []
    for name, path in annotations.items():
        try:
            counts[name] = read_count(path)
        except ValueError as error:
            problems.append((path, str(error)))
    return counts, problems


def scan(root: Path) -> tuple[tuple[VideoItem, ...], tuple[Path, ...], list[Problem]]:
    """The well-formed video/annotation pairs under ``root`` in name order, every video file
    (matched or not, for decoding checks) and every problem of the files.

    Raises :class:`UserError` only when ``root`` is no data set at all.
    """
    if not root.is_dir():
        raise UserError(f"data directory not found: {root}")
    missing = [f"{name}/" for name in (VIDEOS, ANNOTATIONS) if not (root / name).is_dir()]
    if missing:
        raise UserError(
            f"{root} lacks {' and '.join(missing)}: expected the QUVA layout "
            f"{VIDEOS}/NAME.mp4 + {ANNOTATIONS}/NAME.npy (make one with `autocompress data synth`)"
        )
    videos, video_duplicates = _visible_files(root / VIDEOS)
    annotations, annotation_duplicates = _visible_files(root / ANNOTATIONS, ".npy")
    if not videos:
        raise UserError(f"no videos in {root / VIDEOS}")
    if not annotations:
        raise UserError(f"no annotations (NAME.npy) in {root / ANNOTATIONS}")
    counts, malformed = _counts(annotations)
    problems = video_duplicates + annotation_duplicates + _unmatched(videos, annotations)
    items = tuple(
        VideoItem(name, videos[name], annotations[name], counts[name])
        for name in sorted(videos)
        if name in counts
    )
    return items, tuple(videos[name] for name in sorted(videos)), problems + malformed


def _report(root: Path, problems: Sequence[Problem]) -> str:
    """A header line, then one line per problem, by file (a file's own problems in order)."""
    noun = "problem" if len(problems) == 1 else "problems"
    lines = [
        f"  {path.relative_to(root)}: {why}" for path, why in sorted(problems, key=itemgetter(0))
    ]
    return "\n".join([f"{root}: {len(problems)} {noun} in the data folder:", *lines])


class QuvaDataset:
    """The videos of one directory; frames come from the cache when they can.

    ``cache``: True for the default cache directory (see :func:`default_cache_dir`), a path for
    another one, False to decode every time. ``verify``: a frame size to decode every video at
    while opening, so an unreadable one is reported with the other problems rather than met
    while counting; the frames are cached for the counting (decoded again without a cache).
    ``progress`` shows a bar while verifying.
    """

    def __init__(
        self,
        root: str | Path,
        cache: bool | str | Path = True,
        verify: int | None = None,
        progress: bool = False,
    ):
        self.root = Path(root).expanduser()
        if cache is False:
            self.cache = None
        else:
            self.cache = VideoCache(None if cache is True else Path(cache).expanduser())
        items, videos, problems = scan(self.root)
        if verify is not None:
            problems += self._undecodable(videos, verify, progress)
        if problems:
            raise UserError(_report(self.root, problems))
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[VideoItem]:
        return iter(self.items)

    def restricted(self, names: Iterable[str]) -> QuvaDataset:
        """The same folder and cache with only the videos called ``names`` (a split's side)."""
        keep = set(names)
        view = copy.copy(self)
        view.items = tuple(item for item in self.items if item.name in keep)
        return view

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
        return to_model_input(self._decoded(item.video, size))

    def _decoded(self, video: Path, size: int) -> np.ndarray:
        if self.cache is None:
            return decode_video(video, size)
        return self.cache.load(video, size, decode_video)

    def _decode_problem(self, video: Path, size: int) -> str | None:
        """Why ``video`` cannot be decoded at ``size``, or None.

        A cache entry proves the file decodes (entries are written only after a decode of the
        same content), so a warm cache is checked without reading frames.
        """
        try:
            if self.cache is None or not self.cache.entry(video, size).is_file():
                self._decoded(video, size)
        except UnreadableVideo as error:
            return str(error).removeprefix(f"{video}: ")
        except OSError as error:  # hashing for the cache key reads the file first
            return f"cannot read ({error.strerror or error})"
        return None

    def _undecodable(self, videos: Sequence[Path], size: int, progress: bool) -> list[Problem]:
        """A problem for each of ``videos`` that does not decode."""
        bar = tqdm(videos, desc="checking videos", unit="video", disable=not progress)
        return [(video, why) for video in bar if (why := self._decode_problem(video, size))]
