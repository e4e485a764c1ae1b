"""The contract between one model and the search: everything model-specific in one object.

A :class:`ModelAdapter` builds the model, gives real inputs (to calibrate int8 and to time
it) and the :class:`Task` that scores it. What the compression steps must know about the
model (prune groups, custom pruners, how to distil it) is registered for its class
(autocompress.compression.structure), so that every step, the search's or a user's own,
finds it by the model's type. RepNet counting QUVA videos is one adapter
(autocompress.models.repnet.adapter), a digits classifier another
(autocompress.models.digits.adapter).

The task contract itself lives in autocompress.evaluators.task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from autocompress.compression.pipeline import Pipeline
from autocompress.evaluators.task import Task
from autocompress.inputs import Inputs, repeated, rows

__all__ = ["ModelAdapter", "ModuleAdapter", "default_caps"]


@runtime_checkable
class ModelAdapter(Protocol):
    name: str
    objectives: tuple[str, ...]  # the errors its task reports (all minimised); () if no task

    def load(self) -> tuple[nn.Module, str]:
        """The uncompressed model in eval mode, and where its weights came from."""
        ...

    def calibration(self, count: int) -> torch.Tensor | Inputs:
        """``count`` real inputs: a tensor, or a tuple of positional arguments, batch first.
        int8 calibration, tracing and timing use them."""
        ...

    def example_inputs(self, batch_size: int) -> torch.Tensor | Inputs:
        """A batch of the model's inputs, cheap to make (a profile times the model on it)."""
        ...

    def profile_parts(self) -> dict[str, tuple[str, ...]] | None:
        """Parts a profile times: name -> submodules run in a chain; None: each top-level one."""
        ...

    def task(self) -> Task | None:
        """What scores the model during the search (the selection items); None for a model
        that is only timed and sized."""
        ...

    def test_task(self) -> Task | None:
        """The held-out items: the same errors on items the search never sees, which count
        its front points afterwards (autocompress.study.test_set); None: no test set."""
        ...

    def recipe(self, model: nn.Module) -> Pipeline | None:
        """A hand-tuned pipeline of prune and tensorize steps for ``model``, which a new study
        tries first (quantized by SQNR) beside generic ones; None if there is none."""
        ...


# Any task whose family states no caps: each error at most 10 % above the uncompressed model's.
RELATIVE_DEFAULT_CAP = "10%"


def default_caps(adapter: ModelAdapter) -> dict[str, float | str]:
    """The accuracy caps a study of ``adapter``'s model has when it names none, so that its
    fastest point is still a model that works: a family that knows its task's scale sets them
    (an optional member, ``default_error_increase``: objective -> largest rise over the
    uncompressed model's error); any other task's errors may each rise 10 % of their own."""
    family = getattr(adapter, "default_error_increase", None)
    if family is not None:
        return dict(family)
    return dict.fromkeys(adapter.objectives, RELATIVE_DEFAULT_CAP)


@dataclass
class ModuleAdapter:
    """A user's own model: its example inputs (positional arguments, batch first; they also
    calibrate int8 unless ``calibration_inputs`` are given) and the task that scores it (None:
    latency and size only), and optionally a ``test_scoring`` of the same errors on held-out
    items that counts the front afterwards."""

    model: nn.Module
    inputs: Inputs
    scoring: Task | None = None
    calibration_inputs: Inputs | None = None
    name: str = "custom"
    test_scoring: Task | None = None

    @property
    def objectives(self) -> tuple[str, ...]:
        return tuple(self.scoring.objectives) if self.scoring is not None else ()

    def load(self) -> tuple[nn.Module, str]:
        return self.model.eval(), f"the {type(self.model).__name__} given"

    def calibration(self, count: int) -> Inputs:
        data = self.calibration_inputs if self.calibration_inputs is not None else self.inputs
        return rows(data, 0, count)

    def example_inputs(self, batch_size: int) -> Inputs:
        return repeated(self.inputs, batch_size)

    def profile_parts(self) -> None:
        return None

    def task(self) -> Task | None:
        return self.scoring

    def test_task(self) -> Task | None:
        return self.test_scoring

    def recipe(self, model: nn.Module) -> None:
        return None
