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

import copy
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from autocompress.compression.pipeline import Pipeline
from autocompress.evaluators.fidelity import FIDELITY_CAP, FidelityTask
from autocompress.evaluators.task import Task
from autocompress.inputs import Inputs, repeated, rows

__all__ = ["ModelAdapter", "ModuleAdapter", "StudyDefaults", "study_defaults"]


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


@dataclass(frozen=True)
class StudyDefaults:
    """What a study of a model selects on and keeps when it names none: a family that knows
    its task sets them (optional adapter members ``search_objectives``,
    ``default_error_increase`` and ``default_test_increase``)."""

    objectives: tuple[str, ...]  # the task's errors the search minimises
    caps: dict[str, float | str]  # objective -> largest rise over the uncompressed model's
    test_caps: dict[str, float | str]  # the same, paired on the test set before an export


def study_defaults(adapter: ModelAdapter) -> StudyDefaults:
    """``adapter``'s :class:`StudyDefaults`: its family's, else every error its task reports,
    each capped at +10 % of its own (so a fastest point is still a model that works), during
    the search and on the test set alike."""
    objectives = getattr(adapter, "search_objectives", None) or adapter.objectives
    caps = getattr(adapter, "default_error_increase", None)
    if caps is None:
        caps = dict.fromkeys(objectives, RELATIVE_DEFAULT_CAP)
    test_caps = getattr(adapter, "default_test_increase", None)
    if test_caps is None:
        test_caps = dict(caps)
    return StudyDefaults(tuple(objectives), dict(caps), dict(test_caps))


@dataclass
class ModuleAdapter:
    """A user's own model: its example inputs (positional arguments, batch first; they also
    calibrate int8 unless ``calibration_inputs`` are given) and the task that scores it (None:
    fidelity to the model as given, on those inputs), and optionally a ``test_scoring`` of
    the same errors on held-out items that counts the front afterwards."""

    model: nn.Module
    inputs: Inputs
    scoring: Task | None = None
    calibration_inputs: Inputs | None = None
    name: str = "custom"
    test_scoring: Task | None = None

    _fidelity: FidelityTask | None = field(default=None, repr=False)

    @property
    def objectives(self) -> tuple[str, ...]:
        return tuple((self.scoring or FidelityTask).objectives)

    @property
    def default_error_increase(self) -> dict[str, float] | None:
        """Without a task, how far the outputs may move (FIDELITY_CAP); with the user's own,
        None: each of its errors +10 % (study_defaults)."""
        return {"fidelity": FIDELITY_CAP} if self.scoring is None else None

    def load(self) -> tuple[nn.Module, str]:
        return self.model.eval(), f"the {type(self.model).__name__} given"

    def calibration(self, count: int) -> Inputs:
        data = self.calibration_inputs if self.calibration_inputs is not None else self.inputs
        return rows(data, 0, count)

    def example_inputs(self, batch_size: int) -> Inputs:
        return repeated(self.inputs, batch_size)

    def profile_parts(self) -> None:
        return None

    def task(self) -> Task:
        """The user's task, else fidelity to the model as given, on the calibration inputs
        (or the example inputs): with no labels, the search keeps the outputs."""
        if self.scoring is not None:
            return self.scoring
        if self._fidelity is None:
            inputs = self.calibration_inputs if self.calibration_inputs is not None else self.inputs
            self._fidelity = FidelityTask(copy.deepcopy(self.model).eval(), inputs)
        return self._fidelity

    def test_task(self) -> Task | None:
        return self.test_scoring

    def recipe(self, model: nn.Module) -> None:
        return None
