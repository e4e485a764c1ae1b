"""The contract between one model and the search: everything model-specific in one object.

A :class:`ModelAdapter` builds the model, gives real inputs (to calibrate int8 and to time
it) and the :class:`Task` that scores it. What the compression steps must know about the
model (prune groups, custom pruners, how to distil it) is registered for its class
(autocompress.compression.structure), so that every step, the search's or a user's own,
finds it by the model's type. RepNet counting QUVA videos is one adapter
(autocompress.models.repnet_adapter), a digits classifier another (autocompress.models.digits).

A task's objectives are errors (all minimised), each the mean over the task's items of one
error term per item: MAE and OBO over videos, top-1 error over images. That shape lets the
search score a trial on its first items and stop early when even an optimistic estimate of
the rest cannot reach the Pareto front (autocompress.study.screening). A metric that is not
a mean over items is a task of one item.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from autocompress.compression import Pipeline

__all__ = [
    "FunctionTask",
    "ModelAdapter",
    "ModuleAdapter",
    "Task",
    "TaskReport",
    "evaluate_task",
]


@runtime_checkable
class Task(Protocol):
    objectives: tuple[str, ...]  # names of the errors it reports, all minimised

    def item_count(self) -> int:
        """How many items the whole evaluation has."""
        ...

    def item_errors(self, model: nn.Module, start: int, stop: int) -> np.ndarray:
        """Items ``start`` to ``stop`` scored by ``model``: one row per item, one column per
        objective; an objective's value is its column's mean over all items."""
        ...


@runtime_checkable
class ModelAdapter(Protocol):
    name: str
    objectives: tuple[str, ...]  # the errors its task reports (all minimised); () if no task

    def load(self) -> tuple[nn.Module, str]:
        """The uncompressed model in eval mode, and where its weights came from."""
        ...

    def calibration(self, count: int) -> torch.Tensor:
        """``count`` real inputs, batch first: int8 calibration, tracing and timing use them."""
        ...

    def example_inputs(self, batch_size: int) -> torch.Tensor:
        """A batch of the model's input shape, cheap to make (a profile times the model on it)."""
        ...

    def profile_parts(self) -> dict[str, tuple[str, ...]] | None:
        """Parts a profile times: name -> submodules run in a chain; None: each top-level one."""
        ...

    def task(self) -> Task | None:
        """What scores the model; None for a model that is only timed and sized."""
        ...

    def recipe(self, model: nn.Module) -> Pipeline | None:
        """A hand-tuned pipeline of prune and tensorize steps for ``model``, which a new study
        tries first (quantized by SQNR) beside generic ones; None if there is none."""
        ...


@dataclass(frozen=True)
class TaskReport:
    """A task's objectives over the items scored so far (all of them once ``complete``)."""

    values: dict[str, float]
    items: int
    errors: np.ndarray  # items x objectives

    @classmethod
    def of(cls, task: Task, errors: np.ndarray) -> TaskReport:
        values = {name: float(errors[:, i].mean()) for i, name in enumerate(task.objectives)}
        return cls(values, len(errors), errors)


def evaluate_task(task: Task, model: nn.Module) -> TaskReport:
    """``model`` scored on every item of ``task``."""
    return TaskReport.of(task, task.item_errors(model, 0, task.item_count()))


@dataclass(frozen=True)
class FunctionTask:
    """A user's own evaluation function as a task of one item: ``evaluate(model)`` returns a
    float (one objective) or a mapping objective -> error (all minimised)."""

    evaluate: Callable[[nn.Module], float | dict[str, float]]
    objectives: tuple[str, ...] = ("error",)

    def item_count(self) -> int:
        return 1

    def item_errors(self, model: nn.Module, start: int, stop: int) -> np.ndarray:
        result = self.evaluate(model)
        values = result if isinstance(result, dict) else {self.objectives[0]: result}
        missing = [name for name in self.objectives if name not in values]
        if missing:
            raise ValueError(
                f"the evaluation function returned {sorted(values)}, without {missing[0]!r}"
            )
        row = [float(values[name]) for name in self.objectives]
        return np.asarray([row] * (stop - start), dtype=np.float64).reshape(-1, len(row))


@dataclass
class ModuleAdapter:
    """A user's own model: its example inputs (batch first; they also calibrate int8 unless
    ``calibration`` is given) and the task that scores it (None: latency and size only)."""

    model: nn.Module
    inputs: torch.Tensor
    scoring: Task | None = None
    calibration_inputs: torch.Tensor | None = None
    name: str = "custom"

    @property
    def objectives(self) -> tuple[str, ...]:
        return tuple(self.scoring.objectives) if self.scoring is not None else ()

    def load(self) -> tuple[nn.Module, str]:
        return self.model.eval(), f"the {type(self.model).__name__} given"

    def calibration(self, count: int) -> torch.Tensor:
        data = self.calibration_inputs if self.calibration_inputs is not None else self.inputs
        return data[:count]

    def example_inputs(self, batch_size: int) -> torch.Tensor:
        return self.inputs[:1].expand(batch_size, *self.inputs.shape[1:]).contiguous()

    def profile_parts(self) -> None:
        return None

    def task(self) -> Task | None:
        return self.scoring

    def recipe(self, model: nn.Module) -> None:
        return None
