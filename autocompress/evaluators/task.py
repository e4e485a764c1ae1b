"""The contract between a task and the search: what scores a model, as errors per item.

A task's objectives are errors (all minimised), each the mean over the task's items of one
error term per item: MAE and OBO over videos, top-1 error over images. That shape lets the
search score a trial on its first items and stop early when even an optimistic estimate of
the rest cannot reach the Pareto front (autocompress.study.screening). A metric that is not
a mean over items is a task of one item.

It lives with the evaluators (not with the models) because the cost evaluator scores any
model through it; the model adapters only hand one out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from torch import nn

__all__ = ["FunctionTask", "Task", "TaskReport", "evaluate_task"]


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
