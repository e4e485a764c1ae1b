"""The pre-flight check: before a search's first trial, the mistakes of a first hour end in one
line instead of a study of failed trials.

Run once per search, new or resumed (autocompress.study.runner): :func:`check_model` before the
study is opened (so a refused model leaves no study behind), :func:`check_budget` once the
context can time the model as the study does. Each failure is a :class:`UserError` of one line;
an exception from the user's own code (an evaluation function, a Task of their own) also prints
its traceback once, to stderr, since its cause is in their code.
"""

from __future__ import annotations

import inspect
import math
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from autocompress.errors import UserError, typed_first_line
from autocompress.evaluators.task import FunctionTask, Task
from autocompress.inputs import as_inputs, repeated
from autocompress.models.adapter import ModelAdapter
from autocompress.study.config import StudyConfig
from autocompress.study.context import SearchContext, check_device, study_task

__all__ = ["MIN_BUDGET_SHARE", "check_budget", "check_model", "non_finite"]

# A budget under this share of the uncompressed model's latency is refused. What the search's
# techniques reach together (int8 on a pruned, factorised, shallower model) is seldom a tenth of
# the baseline's latency; a twentieth leaves room for that and still catches a budget in the
# wrong unit (0.001 for 1 ms), which would run the whole study to an empty front.
MIN_BUDGET_SHARE = 1 / 20
_CONTRACT_FILE = inspect.getsourcefile(FunctionTask)
_PACKAGE = Path(__file__).parents[1]


def non_finite(errors: Mapping[str, float]) -> str | None:
    """Why ``errors`` cannot be a result, in one line (the first NaN or infinite one); None
    when all are finite numbers."""
    for name, value in errors.items():
        if not math.isfinite(value):
            return f"evaluation returned {value} for {name!r}"
    return None


def check_model(config: StudyConfig, adapter: ModelAdapter) -> dict[str, float] | None:
    """Refuse a model that does not run on its own inputs (the batch the study times, cut from
    the calibration inputs as the study's context cuts it), or a task that cannot score it.
    Returns the task's errors when this scored every item (a user's function is a task of one
    item), so the study need not score the baseline again; else None."""
    check_device(config.accuracy_device)  # where the task scores: before it is asked to
    model, _ = adapter.load()
    calibration = as_inputs(adapter.calibration(config.data.calibration_clips), "calibration")
    example = repeated(calibration, config.latency.batch_size)
    try:
        with torch.no_grad():
            model(*example)
    except Exception as error:
        shapes = ", ".join(str(tuple(item.shape)) for item in example)
        raise UserError(
            f"the model does not run on its example inputs ({shapes}): {typed_first_line(error)}"
        ) from None
    task = study_task(config, adapter)
    return None if task is None else _check_task(task, model)


def _check_task(task: Task, model: nn.Module) -> dict[str, float] | None:
    """Score ``model``'s first item; refuse a task that raises, reports another shape than one
    column per objective, or a value that is not a finite number."""
    what = "evaluate" if isinstance(task, FunctionTask) else f"the task ({type(task).__name__})"
    try:
        items = task.item_count()
        if items < 1:
            raise UserError(f"{what} has no items to score")
        scored = np.asarray(task.item_errors(model, 0, 1), dtype=np.float64)
    except UserError:
        raise
    except Exception as error:
        if _raised_by_users_code(task, error):
            _print_users_traceback(error)
            raise UserError(
                f"{what} raised on the uncompressed model (its traceback is above): "
                f"{typed_first_line(error)}"
            ) from None
        raise UserError(f"{what} on the uncompressed model: {typed_first_line(error)}") from None
    objectives = tuple(task.objectives)
    if scored.shape != (1, len(objectives)):
        raise UserError(
            f"{what} scored one item as an array of shape {scored.shape}; expected "
            f"(1, {len(objectives)}): one column per objective ({', '.join(objectives)})"
        )
    errors = dict(zip(objectives, scored[0].tolist(), strict=True))
    reason = non_finite(errors)
    if reason is not None:
        raise UserError(
            f"{what} on the uncompressed model: {reason}; every error must be a finite number"
        )
    return errors if items == 1 else None


def _raised_by_users_code(task: Task, error: Exception) -> bool:
    """Whether ``error`` comes from the user's code (their evaluation function, a Task of their
    own), rather than from the task contract's own checks or a shipped task."""
    users = isinstance(task, FunctionTask) or not type(task).__module__.startswith("autocompress.")
    raised_at = traceback.extract_tb(error.__traceback__)[-1].filename
    return users and raised_at != _CONTRACT_FILE


def _print_users_traceback(error: Exception) -> None:
    """``error``'s traceback from the first frame outside this package (the user's code)."""
    tb = error.__traceback__
    while tb is not None and Path(tb.tb_frame.f_code.co_filename).is_relative_to(_PACKAGE):
        tb = tb.tb_next
    traceback.print_exception(error.with_traceback(tb or error.__traceback__), file=sys.stderr)


def check_budget(context: SearchContext) -> None:
    """Refuse a budget under MIN_BUDGET_SHARE of the uncompressed model's latency, timed once
    as the study times every trial (the timing then serves as this worker's baseline)."""
    config = context.config
    if config.budget_ms is None:
        return
    try:
        baseline_ms = context.baseline_latency_ms()
    except Exception as error:
        raise UserError(
            f"the uncompressed model cannot be timed as a {config.artifact} artifact: "
            f"{typed_first_line(error)}"
        ) from None
    lowest = baseline_ms * MIN_BUDGET_SHARE
    if config.budget_ms < lowest:
        raise UserError(
            f"budget_ms {config.budget_ms:g} is under 1/{round(1 / MIN_BUDGET_SHARE)} of the "
            f"uncompressed model's latency, {baseline_ms:.3g} ms as this study times it: no "
            f"trial could meet it; give at least {lowest:.2g} ms, or no budget"
        )
