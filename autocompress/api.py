"""The Python API: search how to compress your own model, read the front, export a point.

    import autocompress

    result = autocompress.search(
        model, example_inputs, evaluate=top1_error, objectives=["top1_error"],
        budget_ms=5, trials=40,
    )
    print(autocompress.pareto(result))
    autocompress.export(result, "fastest", "exported/")

``evaluate(model)`` returns a float (the one objective) or a mapping objective -> error; all
errors are minimised. A :class:`~autocompress.models.adapter.Task` may be passed instead, whose
objectives are means over items (the search then screens trials on their first items). The
study lives in ``storage`` (default: ``run_dir/study.db``) like one the command line creates:
calling ``search`` again with the same name resumes it, and ``autocompress pareto --study NAME``
reads it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import torch
from torch import nn

from autocompress.compression.structure import register_structure, structure_of
from autocompress.errors import UserError
from autocompress.evaluators.task import FunctionTask, Task
from autocompress.inputs import as_inputs, batch_size
from autocompress.models.adapter import ModelAdapter, ModuleAdapter
from autocompress.study.config import StudyConfig
from autocompress.study.context import build_context
from autocompress.study.export import ExportResult, export_trial, pick_trial
from autocompress.study.pareto import FrontTable, front_table
from autocompress.study.runner import run_search
from autocompress.study.study_files import study_config_from_dict
from autocompress.study.test_set import fill_test_scores

__all__ = ["SearchResult", "export", "pareto", "search"]

MAX_CALIBRATION = 64  # inputs that calibrate int8 (and seed distillation) at most


@dataclass(frozen=True)
class SearchResult:
    """A study and what it searched: everything ``pareto`` and ``export`` need."""

    study: optuna.Study
    config: StudyConfig
    adapter: ModelAdapter
    run_dir: Path


def _task(
    evaluate: Task | Callable[[nn.Module], Any] | None, objectives: Sequence[str] | None
) -> Task | None:
    if evaluate is None:
        if objectives:
            raise UserError("objectives name what evaluate returns: give evaluate too")
        return None
    if isinstance(evaluate, Task):
        return evaluate
    if not callable(evaluate):
        raise UserError(f"evaluate must be a function of the model or a Task, not {evaluate!r}")
    return FunctionTask(evaluate, tuple(objectives) if objectives else ("error",))


def search(
    model: nn.Module,
    example_inputs: torch.Tensor | Sequence[torch.Tensor],
    evaluate: Task | Callable[[nn.Module], Any] | None = None,
    objectives: Sequence[str] | None = None,
    *,
    budget_ms: float | None = None,
    trials: int = 50,
    storage: str | None = None,
    run_dir: str | Path = "runs",
    name: str = "custom",
    calibration: torch.Tensor | Sequence[torch.Tensor] | None = None,
    prune_groups: Callable[[nn.Module], dict[str, list[str]]] | None = None,
    settings: Mapping[str, Any] | None = None,
    progress: bool = True,
    test_evaluate: Task | Callable[[nn.Module], Any] | None = None,
) -> SearchResult:
    """Search how to compress ``model`` (see the module notes); returns when the study has
    ``trials`` trials. ``example_inputs`` (and ``calibration``) are the model's positional
    arguments, as ``torch.export`` takes them: a tuple of tensors, batch first (a lone tensor
    for a model of one input). ``settings`` sets any other study key (``{"sampler": "random",
    "latency": {"threads": 2}}``; see ``autocompress/studies/default.yaml``).
    ``test_evaluate`` (like ``evaluate``, on held-out data the search never scores) counts the
    front afterwards: ``autocompress.pareto(result, test=True)``."""
    if not isinstance(model, nn.Module):
        raise UserError(f"model must be a torch.nn.Module, not {type(model).__name__}")
    inputs = as_inputs(example_inputs)
    calibration_inputs = None if calibration is None else as_inputs(calibration, "calibration")
    if prune_groups is not None:  # kept with the rest of the family's structure
        structure = dataclasses.replace(structure_of(model), prune_groups=prune_groups)
        register_structure(type(model), structure)
    if test_evaluate is not None and evaluate is None:
        raise UserError("test_evaluate scores the errors evaluate does: give evaluate too")
    adapter = ModuleAdapter(
        model,
        inputs,
        _task(evaluate, objectives),
        calibration_inputs,
        test_scoring=None if test_evaluate is None else _task(test_evaluate, objectives),
    )
    samples = batch_size(calibration_inputs or inputs)
    values: dict[str, Any] = {
        "name": name,
        "preset": adapter.name,
        "trials": trials,
        "budget_ms": budget_ms,
        "data": {"calibration_clips": min(samples, MAX_CALIBRATION)},
    }
    for key, value in (settings or {}).items():
        if isinstance(value, Mapping) and isinstance(values.get(key), dict):
            values[key] = {**values[key], **value}
        else:
            values[key] = value
    config = study_config_from_dict(values)
    outcome = run_search(config, storage, Path(run_dir), progress=progress, adapter=adapter)
    return SearchResult(outcome.study, outcome.config, adapter, Path(run_dir))


def pareto(result: SearchResult | optuna.Study, test: bool = False) -> FrontTable:
    """The feasible Pareto front (``str()`` of it is the table the command line prints);
    ``test``: first score the front points not yet scored on the test set (``test_evaluate``)."""
    if test:
        if not isinstance(result, SearchResult):
            raise UserError("pareto(test=True) rebuilds front points: pass the SearchResult")
        context = build_context(result.config, result.run_dir, result.study, result.adapter)
        fill_test_scores(result.study, context)
    return front_table(result.study if isinstance(result, SearchResult) else result)


def export(
    result: SearchResult, trial: int | str, out: str | Path, overwrite: bool = False
) -> ExportResult:
    """Rebuild trial ``trial`` (a number, or ``fastest``, ``smallest``, ``most-accurate``),
    write its deployable files into ``out`` and measure them again. The fastest is picked once
    the fastest few are timed again; a win within the timing spread goes to the more
    accurate, said in one line (logged at INFO)."""
    context = build_context(result.config, result.run_dir, result.study, result.adapter)
    number = trial if isinstance(trial, int) else pick_trial(result.study, trial, context)
    return export_trial(result.study, number, context, Path(out), overwrite)
