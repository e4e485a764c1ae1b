"""RepNet counting repetitions in QUVA-layout videos: the first model adapter.

The evaluation videos are a QUVA-layout folder of the user's, or synthetic ones generated in
the run directory on first use; every video is decoded once up front (so a search never scores
a set silently missing an unreadable one). They are split into the selection videos the search
counts and the test videos it never sees: a folder by a stable hash of each video's name
(autocompress.data.split), synthetic ones by generating the test set from another seed in
another look (SELECTION_STYLE, TEST_STYLE). Calibration clips are the first 64 frames of the
first selection videos. The task counts each video (autocompress.models.repnet.counting),
scores MAE and OBO, and reads its fidelity to the uncompressed model from the same passes.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from autocompress.compression.pipeline import Pipeline
from autocompress.data.quva import QuvaDataset, Subset, VideoItem
from autocompress.data.split import split_names
from autocompress.data.synthetic import (
    VARIED_STYLE,
    VARIED_TEST_STYLE,
    SynthStyle,
    generate_dataset,
)
from autocompress.errors import UserError
from autocompress.models.registry import FAMILIES, ModelSettings
from autocompress.models.repnet.counting import (
    PROCEDURES,
    CountingConfig,
    StrideOutputs,
    chunk_indices,
    count_from_outputs,
)
from autocompress.models.repnet.fidelity import video_divergence
from autocompress.models.repnet.network import PRESETS
from autocompress.models.repnet.quva_accuracy import video_errors, video_outputs
from autocompress.models.repnet.recipe import CaseStudyRecipe
from autocompress.models.repnet.weights import load_model

__all__ = [
    "COUNT_ERRORS",
    "FIDELITY_CAP",
    "CountingTask",
    "RepNetAdapter",
    "calibration_clips",
    "evaluation_videos",
    "generated_videos",
]


COUNT_ERRORS = ("mae", "obo")
# Generated videos as varied as a user's: photographs behind and on the moving shapes, a moving
# camera, several frame sizes, rates and codecs; the test set in another such look (other
# sizes, rates and codecs, more camera motion), so it differs from the selection videos in
# more than its seed (autocompress.data.synthetic.style).
SELECTION_STYLE = VARIED_STYLE
TEST_STYLE = VARIED_TEST_STYLE
FIDELITY_CAP = 0.1  # see RepNetAdapter.default_error_increase


@dataclass(frozen=True)
class CountingTask:
    """Per video of a data set (or of its first ``subset``): its fidelity to the ``reference``
    model (autocompress.models.repnet.fidelity; without one, not reported), then the MAE and
    OBO terms of its count. Both come from the same forward passes; the reference's outputs
    are computed once per video and kept."""

    dataset: QuvaDataset
    image_size: int
    subset: Subset | int | None = None
    counting: CountingConfig = CountingConfig()
    device: str = "cpu"  # where videos are counted (int8 models count on the CPU)
    reference: nn.Module | None = None  # the uncompressed model
    _reference_outputs: dict[str, dict[int, StrideOutputs]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def objectives(self) -> tuple[str, ...]:
        return ("fidelity", *COUNT_ERRORS) if self.reference is not None else COUNT_ERRORS

    def item_count(self) -> int:
        return len(self.dataset.select(self.subset))

    def item_errors(self, model: nn.Module, start: int, stop: int) -> np.ndarray:
        items = self.dataset.select(self.subset)[start:stop]
        rows = []
        for item, frames, outputs in self._outputs(model, items):
            raw = count_from_outputs(outputs, frames, self.counting).count
            relative, off_by_more = video_errors([item.count], [round(raw)])
            errors = [float(relative[0]), float(off_by_more[0])]
            if self.reference is not None:
                reference = self._reference_of(item)
                errors.insert(0, video_divergence(reference, outputs))
            rows.append(errors)
        return np.asarray(rows, dtype=np.float64).reshape(len(items), len(self.objectives))

    def _outputs(self, model: nn.Module, items: list[VideoItem]):
        return video_outputs(
            model, self.dataset, items, self.counting, False, self.image_size, self.device
        )

    def _reference_of(self, item: VideoItem) -> dict[int, StrideOutputs]:
        if item.name not in self._reference_outputs:
            ((_, _, outputs),) = self._outputs(self.reference, [item])
            self._reference_outputs[item.name] = outputs
        return self._reference_outputs[item.name]


def generated_videos(
    run_dir: Path, videos: int, seed: int, size: int, style: SynthStyle | None = None
) -> QuvaDataset:
    """``videos`` synthetic videos of ``seed`` and ``style``, generated under ``run_dir`` on
    first use (the folder names all three, so a changed look is never read from an old set),
    each decoded (into the cache counting reads) at ``size``."""
    style = style or SELECTION_STYLE
    look = hashlib.sha256(repr(style).encode()).hexdigest()[:8]
    generated = run_dir / f"videos-{videos}-seed{seed}-{look}"
    if not (generated / "annotations").is_dir():
        logging.getLogger(__name__).info("generating %d videos in %s", videos, generated)
        generate_dataset(generated, videos, seed=seed, style=style, overwrite=True)
    return QuvaDataset(generated, verify=size)


def evaluation_videos(
    folder: str | Path | None, synthetic_videos: int | None, seed: int, run_dir: Path, size: int
) -> QuvaDataset:
    """The videos at ``folder``, else ``synthetic_videos`` generated under ``run_dir``, each
    decoded (into the cache counting reads) at ``size``."""
    if folder is not None:
        return QuvaDataset(folder, verify=size)
    if synthetic_videos is None:
        raise UserError("this study evaluates on real videos: give --data DIR")
    return generated_videos(run_dir, synthetic_videos, seed, size)


def _described(dataset: QuvaDataset) -> str:
    names = [item.name for item in dataset]
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return f"{len(names)} ({shown})"


def calibration_clips(dataset: QuvaDataset, count: int, num_frames: int, size: int) -> torch.Tensor:
    """The first ``num_frames`` frames of the first ``count`` videos (index-clipped if short)."""
    clips = []
    for item in dataset.select(count):
        frames = dataset.frames(item, size)
        first_chunk = torch.from_numpy(chunk_indices(len(frames), 1, num_frames)[0])
        clips.append(frames[first_chunk].transpose(0, 1))
    return torch.stack(clips)


@dataclass
class RepNetAdapter:
    """A RepNet preset with its weights, scored on QUVA-layout videos."""

    preset: str
    weights: str | None
    run_dir: Path
    videos: str | None = None  # a QUVA-layout folder; None: synthetic ones
    synthetic_videos: int | None = 16
    synthetic_seed: int = 1000
    subset: int | None = None
    counting: str = "default"
    device: str = "cpu"
    # The test set: synthetic ``test_videos`` of ``test_seed`` in HELD_OUT_STYLE, or this share
    # of the folder's videos by a hash of each name; None: no test set of that kind.
    test_videos: int | None = None
    test_seed: int = 2000
    test_share: float | None = None
    objectives: tuple[str, ...] = ("fidelity", *COUNT_ERRORS)
    _selection: QuvaDataset | None = None
    _test: QuvaDataset | None = None
    _reference: nn.Module | None = None
    # The search selects on fidelity: it needs no labels, moves with every change of the
    # outputs and compares trials on the same frames, where MAE and OBO over a few videos move
    # in steps wider than the margins a point must keep (benchmarks/fidelity.md). The counts
    # confirm the chosen points on the test set afterwards.
    search_objectives: ClassVar[tuple[str, ...]] = ("fidelity",)
    # The divergence a point may reach during the search (benchmarks/fidelity.md: the points
    # that kept the case study's margins on the test set read at most about this).
    default_error_increase: ClassVar[dict[str, float]] = {"fidelity": FIDELITY_CAP}
    # What a point must keep on the test set, paired, to be exported as within the caps.
    default_test_increase: ClassVar[dict[str, float]] = {"mae": 0.03, "obo": 0.05}

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise UserError(f"unknown preset {self.preset!r}; choose one of: {', '.join(PRESETS)}")
        if self.counting not in PROCEDURES:
            raise UserError(f"counting: {self.counting!r}; choose from {', '.join(PROCEDURES)}")
        self.name = self.preset

    @property
    def dataset(self) -> QuvaDataset:
        """The selection videos: the only ones the search counts; said once, with the test
        set's rule."""
        if self._selection is None:
            self._selection = self._selection_videos()
            logging.getLogger(__name__).info(
                "selection videos: %s in %s; test videos: %s",
                _described(self._selection),
                self._selection.root,
                self._test_described(),
            )
        return self._selection

    def _everything(self) -> QuvaDataset:
        size = PRESETS[self.preset].image_size
        everything = evaluation_videos(
            self.videos, self.synthetic_videos, self.synthetic_seed, self.run_dir, size
        )
        if len(everything) == 0:
            raise UserError(f"no evaluation videos in {everything.root}")
        return everything

    def _named_split(self, everything: QuvaDataset) -> tuple[list[str], list[str]]:
        selection, test = split_names((item.name for item in everything), self.test_share)
        if not selection:
            raise UserError(
                f"all {len(test)} videos of {everything.root} fall in the test set "
                f"(data.test_share {self.test_share}): lower it or add videos"
            )
        return selection, test

    def _selection_videos(self) -> QuvaDataset:
        everything = self._everything()
        if self.videos is None or self.test_share is None:
            return everything
        return everything.restricted(self._named_split(everything)[0])

    def test_dataset(self) -> QuvaDataset | None:
        """The test videos, built on first use: generating a synthetic test set takes about a
        minute that a search, which never counts them, should not pay."""
        if self._test is None:
            if self.videos is None and self.test_videos is not None:
                size = PRESETS[self.preset].image_size
                self._test = generated_videos(
                    self.run_dir, self.test_videos, self.test_seed, size, TEST_STYLE
                )
            elif self.videos is not None and self.test_share is not None:
                everything = self._everything()
                test = self._named_split(everything)[1]
                self._test = everything.restricted(test) if test else None
        return self._test

    def _test_described(self) -> str:
        if self.videos is None:
            if self.test_videos is None:
                return "none"
            return f"{self.test_videos} generated when first counted{self._rule()}"
        test = self.test_dataset()
        return "none" if test is None else f"{_described(test)} in {test.root}{self._rule()}"

    def _rule(self) -> str:
        if self.videos is None:
            style = TEST_STYLE
            sizes = "/".join(f"{width}x{height}" for width, height in style.size_choices)
            rates = "/".join(map(str, style.fps_options))
            return f" (seed {self.test_seed}, {sizes} at {rates} fps, {'/'.join(style.codecs)})"
        return f" (a hash of each name puts {self.test_share:.0%} of them there)"

    def load(self) -> tuple[nn.Module, str]:
        return load_model(self.preset, self.weights)

    def reference(self) -> nn.Module:
        """The uncompressed model that fidelity compares with, loaded once."""
        if self._reference is None:
            self._reference = self.load()[0]
        return self._reference

    def calibration(self, count: int) -> torch.Tensor:
        config = PRESETS[self.preset]
        return calibration_clips(self.dataset, count, config.num_frames, config.image_size)

    def example_inputs(self, batch_size: int) -> torch.Tensor:
        """Random clips in [-1, 1]: a profile needs the shape, not the videos."""
        return torch.randn(batch_size, *PRESETS[self.preset].input_shape).clamp(-1, 1)

    def profile_parts(self) -> dict[str, tuple[str, ...]]:
        return {
            "encoder": ("encoder",),
            "temporal conv": ("temporal_conv",),
            "TSM + conv": ("tsm", "tsm_conv"),
            "period head": ("period_length_head",),
            "periodicity head": ("periodicity_head",),
        }

    def task(self) -> CountingTask:
        return self._counting(self.dataset, self.subset)

    def test_task(self) -> CountingTask | None:
        """Every test video (``subset`` shortens the search's estimate, not the test)."""
        test = self.test_dataset()
        return None if test is None else self._counting(test, None)

    def _counting(self, dataset: QuvaDataset, subset: int | None) -> CountingTask:
        return CountingTask(
            dataset,
            PRESETS[self.preset].image_size,
            subset,
            CountingConfig.named(self.counting),
            self.device,
            self.reference(),
        )

    def recipe(self, model: nn.Module) -> Pipeline:
        """The case study's prune -> tensorize (its int8 step is the search's SQNR rule)."""
        recipe = CaseStudyRecipe()
        return Pipeline([recipe.prune(model), recipe.tensorize(model)])


def _from_settings(settings: ModelSettings) -> RepNetAdapter:
    return RepNetAdapter(
        preset=settings.preset,
        weights=settings.weights,
        run_dir=settings.run_dir,
        videos=settings.data_path,
        synthetic_videos=settings.synthetic_items,
        synthetic_seed=settings.synthetic_seed,
        subset=settings.subset,
        counting=settings.counting,
        device=settings.device,
        test_videos=settings.test_items,
        test_seed=settings.test_seed,
        test_share=settings.test_share,
    )


for _preset in PRESETS:
    FAMILIES.register(_preset, _from_settings)
