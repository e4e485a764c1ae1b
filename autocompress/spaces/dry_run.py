"""A space built from what the model offers: every prune group, decomposable layer and
quantizable layer is tried once on a copy of the model before a study samples it.

A group or layer that cannot take its step (channels tied to an attention's ``embed_dim``, a
CP on ``padding='same'``, an op int8 cannot take) fails every trial that samples it, and a
random sampler samples it in about half of them. Each is tried once, at a moderate setting,
with the compression package's own ``apply``, and the model must still run on one calibration
sample afterwards; what fails is left out of the space with its reason (``LeftOut``).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from autocompress.compression import PruneStep, QuantizeStep, TensorizeStep, apply
from autocompress.compression.registry import technique_named
from autocompress.compression.steps import Step
from autocompress.errors import first_line
from autocompress.inputs import Inputs, rows
from autocompress.spaces.config import SpaceConfig

__all__ = ["PRUNE_RATIO", "RANK_FRACTION", "LeftOut", "dry_run", "summary"]

PRUNE_RATIO = 0.3  # moderate: removes channels from any group of 2 or more
RANK_FRACTION = 0.1  # small: the factorisation is tried, not its accuracy, so it takes seconds


@dataclass(frozen=True)
class LeftOut:
    """A choice the space leaves out: ``step`` is ``prune`` (``name`` a group), a tensorize
    method (``tucker``, ``cp``: ``name`` a layer) or ``quantize`` (a layer)."""

    step: str
    name: str
    reason: str

    def __str__(self) -> str:
        what = {"prune": "prune group", "quantize": "int8 of"}.get(self.step, f"{self.step} of")
        return f"{what} {self.name} ({self.reason})"


def _failure(model: nn.Module, step: Step, sample: Inputs) -> str | None:
    """Why ``step`` on a copy of ``model`` fails, or leaves a model that cannot run ``sample``;
    None when it works."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a rounding note is not a failure
            changed = apply(copy.deepcopy(model), step, sample).model
            with torch.no_grad():
                changed.eval()(*sample)
    except Exception as error:  # whatever the step or the model raises leaves the choice out
        return first_line(error)
    return None


def _quantize_failures(
    model: nn.Module, layers: Sequence[str], backend: str, sample: Inputs
) -> dict[str, str]:
    """The layers int8 fails on, by bisection: all at once first, so a model where every
    layer quantizes costs one try. A failure that only a combination shows (both halves
    quantize alone) is not attributed to any layer."""
    if not layers:
        return {}
    reason = _failure(model, QuantizeStep(list(layers), backend=backend), sample)
    if reason is None:
        return {}
    if len(layers) == 1:
        return {layers[0]: reason}
    half = len(layers) // 2
    return {
        **_quantize_failures(model, layers[:half], backend, sample),
        **_quantize_failures(model, layers[half:], backend, sample),
    }


def _searched(space: SpaceConfig, kind: str) -> bool:
    technique = technique_named(kind)
    return technique is not None and any(technique.letter in order for order in space.orders)


def dry_run(
    model: nn.Module, catalog: Any, calibration: Inputs, space: SpaceConfig
) -> tuple[LeftOut, ...]:
    """What of ``catalog`` (a LayerCatalog, read by attribute: catalog.py imports this
    module) cannot take its step on ``model``, each with the reason, in the catalog's order;
    techniques ``space``'s orders never use are not tried."""
    sample = rows(calibration, 0, 1)
    left: list[LeftOut] = []

    def attempt(kind: str, name: str, step: Step) -> None:
        reason = _failure(model, step, sample)
        if reason is not None:
            left.append(LeftOut(kind, name, reason))

    if _searched(space, "prune"):
        for group in catalog.prune_groups:
            step = PruneStep({group: PRUNE_RATIO}, round_to=space.prune_round_to)
            attempt("prune", group, step)
    if _searched(space, "tensorize"):
        for layer, method in catalog.factors:
            attempt(method, layer, TensorizeStep({layer: RANK_FRACTION}, method=method))
    if _searched(space, "quantize"):
        backend = catalog.quantize_backend
        failed = _quantize_failures(model, catalog.quantizable, backend, sample)
        left.extend(LeftOut("quantize", name, reason) for name, reason in failed.items())
    return tuple(left)


def summary(left_out: Sequence[LeftOut], shown: int = 5) -> str:
    """A few lines: what was left out of the space and why."""
    lines = [f"left out of the space ({len(left_out)}, they cannot take the step):"]
    lines += [f"  {item}" for item in left_out[:shown]]
    if len(left_out) > shown:
        lines.append(f"  ... and {len(left_out) - shown} more")
    return "\n".join(lines)
