"""The techniques, registered in one place: every part of the code that knows "a technique"
(the pipeline's YAML and dispatch, its name checks, the search space, the allowed orders, the
front's summaries) reads this registry.

A technique is one module that builds a :class:`Technique` and calls :func:`register`: its
step dataclass and YAML key, the transform that applies a step, the letter a search order
uses for it, how a step changes the names later steps may use, and its part of the search
space. ``compression/depth.py`` is the smallest complete example.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from torch import nn

from autocompress.compression.steps import PipelineError

if TYPE_CHECKING:
    import optuna

    from autocompress.compression.names import Names
    from autocompress.compression.pipeline import StepInputs
    from autocompress.compression.steps import StepReport

__all__ = [
    "Technique",
    "built_in_space",
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


@dataclass(frozen=True)
class Technique:
    kind: str  # its key in a pipeline's YAML: {"prune": {...}}
    step_type: type  # a frozen dataclass with a ``summary()`` for tables
    transform: Transform
    # Refuses names the step cannot use at its point of a pipeline and records how the step
    # changes them (autocompress.compression.names); None: it names no layer.
    check: Callable[[Names, int, Any], None] | None = None
    letter: str | None = None  # in a search order ("P"); None: never sampled (finetune)
    suggest: Suggest | None = None  # its part of the search space
    # Why nothing may follow it; None: anything may.
    last: str | None = None
    # What the model offers it, computed once per study from the model and calibration
    # inputs (autocompress.spaces.catalog), in the order its space reads them.
    offers: Callable[[nn.Module, Any], tuple[str, ...]] | None = None
    recoverable: bool = False  # a finetune after it can win back accuracy it cost


_TECHNIQUES: dict[str, Technique] = {}


def register(technique: Technique) -> Technique:
    """Add ``technique`` (or replace the one of the same kind: how a backend plugs in)."""
    if technique.letter is not None:
        taken = next((t for t in _TECHNIQUES.values() if t.letter == technique.letter), None)
        if taken is not None and taken.kind != technique.kind:
            raise ValueError(f"letter {technique.letter!r} is {taken.kind!r}'s")
    _TECHNIQUES[technique.kind] = technique
    return technique


def techniques() -> tuple[Technique, ...]:
    _load_builtin()
    return tuple(_TECHNIQUES.values())


def technique_named(kind: str) -> Technique | None:
    _load_builtin()
    return _TECHNIQUES.get(kind)


def technique_lettered(letter: str) -> Technique | None:
    return next((t for t in techniques() if t.letter == letter), None)


def technique_of(step: object) -> Technique:
    _load_builtin()
    for technique in _TECHNIQUES.values():
        if isinstance(step, technique.step_type):
            return technique
    raise PipelineError(f"{type(step).__name__} is not a step of any registered technique")


def built_in_space(function_name: str) -> Suggest:
    """A built-in technique's space part, ``autocompress.spaces.steps.<function_name>``, read
    when first called: the spaces import the techniques, so a technique module cannot import
    them when it loads."""

    def suggest(trial, catalog, space, state):
        from autocompress.spaces import steps

        return getattr(steps, function_name)(trial, catalog, space, state)

    return suggest


def _load_builtin() -> None:
    """The shipped techniques register when their modules are imported."""
    from autocompress.compression import depth, finetune, prune, quantization, tensorize  # noqa: F401
