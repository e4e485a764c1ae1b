"""Everything a worker builds once and every trial reuses: the model adapter, the base model,
calibration inputs, the layer catalog with its SQNR ranking, and the cost evaluator."""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import optuna
import torch
from torch import nn

from autocompress.analysis.sqnr import sqnr_ranking
from autocompress.backends import ARTIFACT_FORMATS
from autocompress.compression import Pipeline, StepReport, apply_pipeline
from autocompress.compression.calibration import example_input
from autocompress.compression.quantization import choose_backend
from autocompress.errors import UserError
from autocompress.evaluators.cost import CostEvaluator
from autocompress.evaluators.exclusive import MachineLock
from autocompress.evaluators.fidelity import FidelityTask
from autocompress.evaluators.task import Task, evaluate_task
from autocompress.inputs import Inputs, as_inputs, output_tensors, repeated
from autocompress.models.adapter import ModelAdapter, study_defaults
from autocompress.models.registry import adapter_for
from autocompress.spaces.config import SpaceConfig
from autocompress.spaces.dry_run import LeftOut, dry_run, summary
from autocompress.spaces.pipeline_space import LayerCatalog
from autocompress.study.config import (
    MEASURED_OBJECTIVES,
    StudyConfig,
    model_settings,
    with_task_objectives,
)
from autocompress.timing import TimingProtocol

__all__ = ["SearchContext", "build_context", "check_device", "compress", "context_of"]


def compress(
    model: nn.Module,
    pipeline: Pipeline,
    calibration: Inputs,
    device: str = "cpu",
    between_steps: Callable[[], None] | None = None,
) -> tuple[nn.Module, list[StepReport]]:
    """The compressed copy of ``model``; an empty pipeline is the baseline, a plain copy.
    Training steps (recovery) run on ``device``; ``between_steps`` as apply_pipeline's."""
    if not pipeline.steps:
        return copy.deepcopy(model).eval(), []
    compressed, reports = apply_pipeline(model, pipeline, calibration, device, between_steps)
    return compressed.eval(), reports


def _quantize_backend(
    study: optuna.Study, config: StudyConfig, model: nn.Module, calibration: Inputs
) -> str | None:
    """The study's int8 backend: the first of ``config.quantize_backends`` that can quantize
    the model (None: none can), chosen by the first worker and stored, so every worker and
    every resumption quantizes on the same one. A backend the study names that cannot is
    refused in one line."""
    stored = study.user_attrs.get("quantize_backend")
    if stored is not None:
        return json.loads(stored)
    choice = choose_backend(model, example_input(model, calibration), config.quantize_backends)
    if choice.name is None and config.quantization is not None:
        raise UserError(f"quantization: {config.quantization}: {choice.refusals[0][1]}")
    logging.getLogger(__name__).info("%s", choice.line)
    study.set_user_attr("quantize_backend", json.dumps(choice.name))
    return choice.name


def _sqnr_ranking(
    study: optuna.Study, model: nn.Module, calibration: Inputs, backend: str, layers: list[str]
) -> dict[str, float]:
    """Per-layer SQNR of the uncompressed model, computed by the first worker, then stored;
    said in one line when it skipped layers or took more than a second."""
    stored = study.user_attrs.get("sqnr_db")
    if stored is not None:
        return json.loads(stored)
    started = time.perf_counter()
    result = sqnr_ranking(model, calibration, backend, layers)
    seconds = time.perf_counter() - started
    if result.skipped or seconds > 1:
        logging.getLogger(__name__).info("%s: %.0f s", result.line, seconds)
    ranking = {r.name: min(r.sqnr_db, 999.0) for r in result.results}
    study.set_user_attr("sqnr_db", json.dumps(ranking))
    return ranking


def _left_out(
    study: optuna.Study,
    model: nn.Module,
    catalog: LayerCatalog,
    calibration: Inputs,
    space: SpaceConfig,
    artifact: str,
    same_outputs: bool,
) -> tuple[LeftOut, ...]:
    """What the model cannot take (the dry run: each choice applied, run, and shipped as the
    study's ``artifact``; with ``same_outputs``, giving outputs of the uncompressed model's
    shapes, which a task that compares outputs needs), found by the first worker, then
    stored, and said once."""
    artifact_format = ARTIFACT_FORMATS[artifact]

    def ships(compressed: nn.Module, sample: Inputs) -> None:
        with torch.no_grad():
            artifact_format.load(artifact_format.serialize(compressed, sample))(*sample)
            if same_outputs:
                shapes = [_shapes(m(*sample)) for m in (model, compressed)]
                if shapes[0] != shapes[1]:
                    raise ValueError(f"changes the outputs' shapes ({shapes[0]} -> {shapes[1]})")

    stored = study.user_attrs.get("left_out")
    if stored is not None:
        return tuple(LeftOut(**item) for item in json.loads(stored))
    left_out = dry_run(model, catalog, calibration, space, ships)
    study.set_user_attr("left_out", json.dumps([dataclasses.asdict(i) for i in left_out]))
    if left_out:
        logging.getLogger(__name__).info("%s", summary(left_out))
    return left_out


def _shapes(outputs: object) -> list[tuple[int, ...]]:
    return [tuple(tensor.shape) for tensor in output_tensors(outputs)]


def study_task(config: StudyConfig, adapter: ModelAdapter) -> Task | None:
    """The task, where the study scores one: an error among its objectives, or an error cap."""
    scores_task = set(config.objectives or ()) - set(MEASURED_OBJECTIVES)
    return adapter.task() if scores_task or config.max_error_increase else None


def check_device(device: str) -> None:
    if device.startswith("cuda"):
        index = int(device.partition(":")[2] or 0)
        if not torch.cuda.is_available() or index >= torch.cuda.device_count():
            raise UserError(
                f"accuracy_device {device}: no such CUDA device here (torch {torch.__version__}, "
                f"{torch.cuda.device_count()} GPU(s)); use cpu"
            )


@dataclass
class SearchContext:
    config: StudyConfig
    adapter: ModelAdapter
    model: nn.Module
    weights_source: str
    calibration: Inputs
    catalog: LayerCatalog
    evaluator: CostEvaluator
    _baseline_errors: dict[str, float] | None = None
    _test_task: Task | None = None

    def test_task(self) -> Task | None:
        """The held-out items that count front points after the search (autocompress.study.
        test_set), built on first use (a search never counts them); None: no test set, or a
        study that does not score its task. It must report the errors the task does."""
        if self._test_task is None and self.evaluator.task is not None:
            test_task = self.adapter.test_task()
            objectives = tuple(self.adapter.objectives)
            if test_task is not None and tuple(test_task.objectives) != objectives:
                raise UserError(
                    f"the test task reports {', '.join(test_task.objectives)}; the task "
                    f"{', '.join(objectives)}: a test set scores the same errors"
                )
            self._test_task = test_task
        return self._test_task

    def baseline_latency_ms(self) -> float:
        """The uncompressed model's latency, timed now (a trial's speed-up needs no such
        number: its evaluator times the baseline in turns with it)."""
        evaluator = self.evaluator
        return evaluator.in_turns({"baseline": evaluator.baseline_sampler})["baseline"].median_ms

    def note_baseline_errors(self, errors: dict[str, float]) -> None:
        """The pre-flight's complete scoring of the uncompressed model (autocompress.study.
        preflight) serves as its errors: the task need not score it again."""
        self._baseline_errors = dict(errors)

    def baseline_errors(self) -> dict[str, float]:
        """The task's errors on the uncompressed model, for the optional error limits."""
        if self._baseline_errors is None:
            task = self.evaluator.task
            if task is None:
                raise ValueError("the accuracy constraint needs a task")
            self._baseline_errors = dict(evaluate_task(task, self.model).values)
        return self._baseline_errors


def build_context(
    config: StudyConfig, run_dir: Path, study: optuna.Study, adapter: ModelAdapter | None = None
) -> SearchContext:
    """The context of ``config``'s model: its ``adapter`` if given (a Python API search),
    else the one its ``preset`` names."""
    check_device(config.accuracy_device)  # before the model is looked up, let alone loaded
    adapter = adapter or adapter_for(model_settings(config, run_dir))
    return context_of(
        with_task_objectives(config, adapter.objectives, study_defaults(adapter)), adapter, study
    )


def context_of(config: StudyConfig, adapter: ModelAdapter, study: optuna.Study) -> SearchContext:
    """The context of a ``config`` whose objectives are already resolved against ``adapter``
    (with_task_objectives), as a search resolves them once."""
    if config.objectives is None:
        raise ValueError("context_of needs the objectives resolved (with_task_objectives)")
    check_device(config.accuracy_device)
    model, source = adapter.load()
    calibration = as_inputs(adapter.calibration(config.data.calibration_clips), "calibration")
    quantizes = any("Q" in order for order in config.space.orders)
    chosen = _quantize_backend(study, config, model, calibration) if quantizes else None
    backend = chosen or config.quantize_backend
    task = study_task(config, adapter)
    # A task that compares outputs (fidelity, with no labels) needs them of the same shapes.
    compares_outputs = isinstance(task, FidelityTask)
    try:
        catalog = LayerCatalog.of(model, config.space, {}, backend, calibration)
        left_out = _left_out(
            study, model, catalog, calibration, config.space, config.artifact, compares_outputs
        )
        catalog = catalog.without(left_out)
    except ValueError as error:
        raise UserError(str(error)) from error
    if chosen is None:  # no backend can: Q steps find nothing to quantize
        catalog = dataclasses.replace(catalog, quantizable=())
    elif config.space.quantize_by == "sqnr":
        # Of the layers int8 takes (the dry run): one that fails would fail the ranking.
        sqnr = _sqnr_ranking(study, model, calibration, backend, list(catalog.quantizable))
        catalog = dataclasses.replace(catalog, sqnr_db=sqnr)
    latency = config.latency
    example = repeated(calibration, latency.batch_size)
    evaluator = CostEvaluator(
        example=example,
        protocol=TimingProtocol(warmup=latency.warmup, runs=latency.runs, threads=latency.threads),
        lock=MachineLock(),
        artifact_format=ARTIFACT_FORMATS[config.artifact],
        command_timer=latency.timer(),
        budget_ms=config.budget_ms,
        task=task,
        screen_items=config.data.screen_videos,
        baseline=model,
    )
    return SearchContext(config, adapter, model, source, calibration, catalog, evaluator)
