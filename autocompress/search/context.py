"""Everything a worker builds once and every trial reuses: the base model, the evaluation
videos, calibration clips, the layer catalog with its SQNR ranking, and the cost evaluator."""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from pathlib import Path

import optuna
import torch
from torch import nn

from autocompress.backends import artifact_format
from autocompress.compression import Pipeline, StepReport, apply_pipeline
from autocompress.data.quva import QuvaDataset
from autocompress.data.synthetic import generate_dataset
from autocompress.errors import UserError
from autocompress.evaluators.cost import CostEvaluator
from autocompress.evaluators.exclusive import MachineLock
from autocompress.evaluators.latency import TimingProtocol
from autocompress.models.counting import CountingConfig, chunk_indices
from autocompress.models.repnet import PRESETS
from autocompress.models.weights import load_model
from autocompress.search.config import StudyConfig
from autocompress.spaces.pipeline_space import LayerCatalog

__all__ = ["SearchContext", "build_context", "calibration_clips", "compress", "evaluation_videos"]


def compress(
    model: nn.Module, pipeline: Pipeline, calibration: torch.Tensor, device: str = "cpu"
) -> tuple[nn.Module, list[StepReport]]:
    """The compressed copy of ``model``; an empty pipeline is the baseline, a plain copy.
    Training steps (recovery) run on ``device``."""
    if not pipeline.steps:
        return copy.deepcopy(model).eval(), []
    compressed, reports = apply_pipeline(model, pipeline, calibration, device)
    return compressed.eval(), reports


def evaluation_videos(config: StudyConfig, run_dir: Path) -> QuvaDataset:
    data = config.data
    # Every video is decoded once up front, at counting's size (so into the cache counting
    # reads): a search never scores a set silently missing an unreadable video.
    size = PRESETS[config.preset].image_size
    if data.path is not None:
        return QuvaDataset(data.path, verify=size)
    if data.synthetic_videos is None:
        raise UserError(f"study {config.name!r} evaluates on real videos: give --data DIR")
    folder = run_dir / f"videos-{data.synthetic_videos}-seed{data.synthetic_seed}"
    if not (folder / "annotations").is_dir():
        print(f"generating {data.synthetic_videos} evaluation videos in {folder}")
        generate_dataset(folder, data.synthetic_videos, seed=data.synthetic_seed, overwrite=True)
    return QuvaDataset(folder, verify=size)


def calibration_clips(dataset: QuvaDataset, count: int, num_frames: int, size: int) -> torch.Tensor:
    """The first ``num_frames`` frames of the first ``count`` videos (index-clipped if short)."""
    clips = []
    for item in dataset.select(count):
        frames = dataset.frames(item, size)
        first_chunk = torch.from_numpy(chunk_indices(len(frames), 1, num_frames)[0])
        clips.append(frames[first_chunk].transpose(0, 1))
    return torch.stack(clips)


def _sqnr_ranking(
    study: optuna.Study, model: nn.Module, calibration: torch.Tensor, backend: str
) -> dict[str, float]:
    """Per-layer SQNR of the uncompressed model, computed by the first worker, then stored."""
    stored = study.user_attrs.get("sqnr_db")
    if stored is not None:
        return json.loads(stored)
    from autocompress.analysis.sqnr import layer_sqnr

    results = layer_sqnr(model, calibration, backend=backend)
    ranking = {r.name: min(r.sqnr_db, 999.0) for r in results}
    study.set_user_attr("sqnr_db", json.dumps(ranking))
    return ranking


def _check_device(device: str) -> None:
    if device.startswith("cuda"):
        index = int(device.partition(":")[2] or 0)
        if not torch.cuda.is_available() or index >= torch.cuda.device_count():
            raise UserError(
                f"accuracy_device {device}: no such CUDA device here (torch {torch.__version__}, "
                f"{torch.cuda.device_count()} GPU(s)); use cpu"
            )


BASELINE_RETIME_S = 600.0  # a worker times the baseline again when its timing is this old


@dataclass
class SearchContext:
    config: StudyConfig
    model: nn.Module
    weights_source: str
    calibration: torch.Tensor
    catalog: LayerCatalog
    evaluator: CostEvaluator
    _baseline_mae: float | None = None
    _baseline_timing: tuple[float, float] | None = None  # (median ms, when: monotonic s)

    def note_baseline_latency(self, median_ms: float) -> None:
        """The baseline trial's own timing serves as this worker's baseline timing."""
        self._baseline_timing = (median_ms, time.monotonic())

    def baseline_latency_ms(self) -> float:
        """The uncompressed model's latency, timed by this worker at most BASELINE_RETIME_S
        ago: a trial's speed-up is its ratio to a baseline timed under the same load, not to
        the baseline trial measured hours before on a machine that was busier or quieter."""
        now = time.monotonic()
        if self._baseline_timing is None or now - self._baseline_timing[1] > BASELINE_RETIME_S:
            with self.evaluator.lock.shared():
                data = self.evaluator.artifact(self.model)
            self._baseline_timing = (self.evaluator.latency(data).median_ms, time.monotonic())
        return self._baseline_timing[0]

    def baseline_mae(self) -> float:
        """MAE of the uncompressed model, for the optional accuracy constraint."""
        if self._baseline_mae is None:
            self._baseline_mae = self.evaluator.accuracy(self.model)[0].mae
        return self._baseline_mae


def build_context(config: StudyConfig, run_dir: Path, study: optuna.Study) -> SearchContext:
    _check_device(config.accuracy_device)
    model, source = load_model(config.preset, config.weights)
    cfg = model.config
    dataset = evaluation_videos(config, run_dir)
    if len(dataset) == 0:
        raise UserError(f"no evaluation videos in {dataset.root}")
    calibration = calibration_clips(
        dataset, config.data.calibration_clips, cfg.num_frames, cfg.image_size
    )
    wants_sqnr = config.space.quantize_by == "sqnr" and any("Q" in o for o in config.space.orders)
    started = time.perf_counter()
    backend = config.quantize_backend
    sqnr = _sqnr_ranking(study, model, calibration, backend) if wants_sqnr else {}
    if wants_sqnr and time.perf_counter() - started > 1:
        print(f"SQNR ranking of {len(sqnr)} layers: {time.perf_counter() - started:.0f} s")
    try:
        catalog = LayerCatalog.of(model, config.space, sqnr, backend)
    except ValueError as error:
        raise UserError(str(error)) from error
    latency = config.latency
    example = calibration[:1].expand(latency.batch_size, *calibration.shape[1:]).contiguous()
    evaluator = CostEvaluator(
        dataset=dataset,
        example=example,
        protocol=TimingProtocol(warmup=latency.warmup, runs=latency.runs, threads=latency.threads),
        image_size=cfg.image_size,
        lock=MachineLock(),
        artifact_format=artifact_format(config.artifact),
        command_timer=latency.timer(),
        budget_ms=config.budget_ms,
        subset=config.data.subset,
        counting=CountingConfig.named(config.counting),
        scores_accuracy=bool({"mae", "obo"} & set(config.objectives))
        or config.max_mae_increase is not None,
        accuracy_device=config.accuracy_device,
        screen_videos=config.data.screen_videos,
    )
    return SearchContext(config, model, source, calibration, catalog, evaluator)
