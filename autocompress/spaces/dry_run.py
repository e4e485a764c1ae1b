"""A space built from what the model offers: every prune group, decomposable layer and
quantizable layer is tried once on a copy of the model before a study samples it.

A group or layer that cannot take its step (channels tied to an attention's ``embed_dim``, a
CP on ``padding='same'``, an op int8 cannot take) fails every trial that samples it, and a
random sampler samples it in about half of them. Each is tried at a moderate setting with the
compression package's own ``apply`` on a copy, given the calibration a trial gives it, all of a
kind at once and bisected only when that fails, and the model must still run on one calibration
sample afterwards (and ship as the study's artifact); what fails is left out of the space with
its reason (``LeftOut``).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from autocompress.compression import PruneStep, TensorizeStep, apply
from autocompress.compression.quantization.space import step_for
from autocompress.compression.registry import technique_named
from autocompress.compression.steps import Step
from autocompress.compression.tensorize import CpLayer, factorize, rank_limit, within_cap
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


# Raises when a compressed model cannot become the study's artifact (serialized, loaded, run).
ShipCheck = Callable[[nn.Module, Inputs], None]


def _failure(
    model: nn.Module, step: Step, calibration: Inputs, ships: ShipCheck | None
) -> str | None:
    """Why ``step`` on a copy of ``model``, given the ``calibration`` a trial gives it, fails,
    or leaves a model that cannot run one sample or (``ships``) be shipped; None when it
    works. The whole calibration: a model whose branches depend on its batch takes at a trial
    the branch the calibration takes, not the one a single sample may."""
    sample = rows(calibration, 0, 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a rounding note is not a failure
            changed = apply(copy.deepcopy(model), step, calibration).model
            with torch.no_grad():
                changed.eval()(*sample)
            if ships is not None:
                ships(changed, sample)
    except Exception as error:  # whatever the step or the model raises leaves the choice out
        return first_line(error)
    return None


def _failures(
    model: nn.Module,
    names: Sequence[str],
    step_of: Callable[[list[str]], Step],
    calibration: Inputs,
    ships: ShipCheck | None,
) -> dict[str, str]:
    """The names whose step fails, by bisection: all at once first, so a model where every
    name takes its step costs one try (one dependency graph, one forward), not one per name.
    A failure that only a combination shows (both halves pass alone) is not attributed."""
    if not names:
        return {}
    reason = _failure(model, step_of(list(names)), calibration, ships)
    if reason is None:
        return {}
    if len(names) == 1:
        return {names[0]: reason}
    half = len(names) // 2
    return {
        **_failures(model, names[:half], step_of, calibration, ships),
        **_failures(model, names[half:], step_of, calibration, ships),
    }


def _searched(space: SpaceConfig, kind: str) -> bool:
    technique = technique_named(kind)
    return technique is not None and any(technique.letter in order for order in space.orders)


def dry_run(
    model: nn.Module,
    catalog: Any,
    calibration: Inputs,
    space: SpaceConfig,
    ships: ShipCheck | None = None,
) -> tuple[LeftOut, ...]:
    """What of ``catalog`` (a LayerCatalog, read by attribute: catalog.py imports this
    module) cannot take its step on ``model``, each with the reason, in the catalog's order;
    techniques ``space``'s orders never use are not tried. With ``ships``, a choice whose
    model the study's artifact format cannot take (FX's int8 of some layers does not
    script, for one) is left out too."""
    tries: list[tuple[str, Sequence[str], Callable[[list[str]], Step]]] = []
    if _searched(space, "prune"):

        def prune(groups: list[str]) -> Step:
            return PruneStep(dict.fromkeys(groups, PRUNE_RATIO), round_to=space.prune_round_to)

        tries.append(("prune", catalog.prune_groups, prune))
    too_slow = _too_slow(catalog.cp_layers, space) if _searched(space, "tensorize") else ()
    if _searched(space, "tensorize"):
        slow = {(item.name, item.step) for item in too_slow}
        for method in dict.fromkeys(method for _, method in catalog.factors):

            def tensorize(layers: list[str], method: str = method) -> Step:
                ranks = dict.fromkeys(layers, RANK_FRACTION)
                if method == "cp":
                    ranks = within_cap(ranks, catalog.cp_layers)
                return TensorizeStep(ranks, method=method)

            layers = [
                layer for layer, m in catalog.factors if m == method and (layer, m) not in slow
            ]
            tries.append((method, layers, tensorize))
    if _searched(space, "quantize"):

        def quantize(layers: list[str]) -> Step:
            return step_for(layers, catalog.quantize_backend)

        tries.append(("quantize", catalog.quantizable, quantize))
    return too_slow + tuple(
        LeftOut(kind, name, reason)
        for kind, names, step_of in tries
        for name, reason in _failures(model, names, step_of, calibration, ships).items()
    )


def _too_slow(layers: dict[str, CpLayer], space: SpaceConfig) -> tuple[LeftOut, ...]:
    """The layers whose CP the time cap leaves at no rank the space samples: even alone in
    its step, the space's lowest rank fraction would take too long."""
    low = space.rank_fraction[0]
    limits = {name: rank_limit(layer, factorize.CP_TIME_CAP_S) for name, layer in layers.items()}
    return tuple(
        LeftOut(
            "cp",
            name,
            f"above rank {limit.rank} it would take over {factorize.CP_TIME_CAP_S:.0f} s, "
            f"under the space's lowest rank fraction {low:g}",
        )
        for name, limit in limits.items()
        if limit.fraction < low
    )


def summary(left_out: Sequence[LeftOut], shown: int = 5) -> str:
    """A few lines: what was left out of the space and why."""
    lines = [f"left out of the space ({len(left_out)}, they cannot take the step):"]
    lines += [f"  {item}" for item in left_out[:shown]]
    if len(left_out) > shown:
        lines.append(f"  ... and {len(left_out) - shown} more")
    return "\n".join(lines)
