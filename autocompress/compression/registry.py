"""The techniques, registered in one place: every part of the code that knows "a technique"
(the pipeline's YAML and dispatch, its name checks, the search space, the allowed orders, the
front's summaries) reads this registry.

A technique is one module that builds a :class:`Technique` and calls :func:`register`: its
step dataclass (whose ``kind`` is its YAML key), the transform that applies a step, the letter
a search order uses for it, how a step changes the names later steps may use, its part of the
search space and how it writes a warm-start point as trial parameters.
``compression/depth.py`` is the smallest complete example; ``compression/__init__.py`` imports
the shipped techniques, so they are registered before any part of the package is used.

The space parts receive the study's layer catalog (``autocompress.spaces.catalog``), its
space bounds (``autocompress.spaces.config``) and the sampling state; they read them by
attribute, since the spaces sit above this layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from torch import nn

from autocompress.compression.steps import PipelineError
from autocompress.inputs import Inputs
from autocompress.registry import Registry

if TYPE_CHECKING:
    import optuna

    from autocompress.compression.names import Names
    from autocompress.compression.steps import StepReport

__all__ = [
    "StepInputs",
    "Technique",
    "register",
    "technique_lettered",
    "technique_named",
    "technique_of",
    "techniques",
]

# (model, step, inputs) -> report; the compressed model is ``report.model``.
Transform = Callable[[nn.Module, Any, "StepInputs"], "StepReport"]
# (trial, catalog, space, state) -> the step a trial samples, or None when it selects nothing.
Suggest = Callable[["optuna.Trial", Any, Any, Any], Any]
# (point, catalog, space) -> the trial parameters that make ``suggest`` sample the point's step.
PointParams = Callable[[Any, Any, Any], dict]


@dataclass(frozen=True)
class Technique:
    step_type: type  # a frozen dataclass with a ``kind`` and a ``summary()`` for tables
    transform: Transform
    # Refuses names the step cannot use at its point of a pipeline and records how the step
    # changes them (autocompress.compression.names); None: it names no layer.
    check: Callable[[Names, int, Any], None] | None = None
    letter: str | None = None  # in a search order ("P"); None: never sampled (finetune)
    suggest: Suggest | None = None  # its part of the search space
    point_params: PointParams | None = None  # a warm-start point in its space's parameters
    # Why nothing may follow it; None: anything may.
    last: str | None = None
    # What the model offers it, computed once per study from the model and calibration
    # inputs (autocompress.spaces.catalog), in the order its space reads them.
    offers: Callable[[nn.Module, Any], tuple[str, ...]] | None = None
    recoverable: bool = False  # a finetune after it can win back accuracy it cost

    @property
    def kind(self) -> str:
        """Its key in a pipeline's YAML: ``{"prune": {...}}``."""
        return self.step_type.kind


@dataclass(frozen=True)
class StepInputs:
    """What a step may need besides the model: calibration inputs (static int8; positional
    arguments, batch first, autocompress.inputs) and the
    uncompressed model (the teacher that recovery distils from)."""

    calibration: Inputs | None = None
    teacher: nn.Module | None = None
    device: str = "cpu"  # where training steps run (the model comes back on the CPU)


_TECHNIQUES: Registry[Technique] = Registry("technique")


def register(technique: Technique) -> Technique:
    """Add ``technique`` (or replace the one of the same kind: how a backend plugs in)."""
    if technique.letter is not None:
        taken = technique_lettered(technique.letter)
        if taken is not None and taken.kind != technique.kind:
            raise ValueError(f"letter {technique.letter!r} is {taken.kind!r}'s")
    return _TECHNIQUES.register(technique.kind, technique)


def techniques() -> tuple[Technique, ...]:
    return _TECHNIQUES.values()


def technique_named(kind: str) -> Technique | None:
    return _TECHNIQUES.get(kind)


def technique_lettered(letter: str) -> Technique | None:
    return next((t for t in techniques() if t.letter == letter), None)


def technique_of(step: object) -> Technique:
    technique = _TECHNIQUES.get(getattr(step, "kind", ""))
    if technique is None or not isinstance(step, technique.step_type):
        raise PipelineError(f"{type(step).__name__} is not a step of any registered technique")
    return technique
