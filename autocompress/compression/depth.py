"""Depth pruning: whole residual blocks replaced by the identity.

Channel pruning thins every layer but keeps each layer's fixed costs (its launch, the memory
traffic of its activations); dropping a block removes them too. A block may be dropped when it
computes its input plus a residual branch of the same shape: the model family says which
blocks those are (``removable_blocks`` of its compression structure; RepNet's stride-1
bottlenecks, the digits net's identity-shortcut blocks). The search offers them ranked by how
little each changes its input on the calibration inputs (``||block(x) - x|| / ||x||``), and a
trial drops the k that change it least.

The whole technique is this module: its step, transform, name check and search-space part,
registered below (autocompress.compression.registry).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import optuna
import torch
from torch import nn

from autocompress.compression.layers import replace_module
from autocompress.compression.names import Names
from autocompress.compression.registry import Technique, register
from autocompress.compression.steps import PipelineError, StepReport
from autocompress.compression.structure import structure_of
from autocompress.inputs import Inputs, as_inputs, rows

__all__ = ["DepthStep", "DroppedBlock", "drop_blocks", "ranked_blocks"]


@dataclass(frozen=True)
class DepthStep:
    """Replace each residual block in ``blocks`` (module names) by the identity."""

    kind: ClassVar[str] = "depth"

    blocks: list[str]

    def __post_init__(self) -> None:
        if not self.blocks or not all(isinstance(b, str) and b for b in self.blocks):
            raise PipelineError(f"depth step needs a list of block names, got {self.blocks!r}")
        if len(set(self.blocks)) != len(self.blocks):
            raise PipelineError("depth step names a block twice")

    def summary(self) -> str:
        return f"drop {len(self.blocks)} blocks"


@dataclass(frozen=True)
class DroppedBlock:
    name: str
    parameters: int

    def __str__(self) -> str:
        return f"{self.name:<48} dropped ({self.parameters:,} parameters)"


def _removable(model: nn.Module) -> list[str]:
    return structure_of(model).removable_blocks(model)


def drop_blocks(model: nn.Module, step: DepthStep, inputs: object = None) -> StepReport:
    """Replace the blocks in place; a block the model's structure does not offer is refused."""
    started = time.perf_counter()
    removable = _removable(model)
    unknown = [b for b in step.blocks if b not in removable]
    if unknown:
        offered = ", ".join(removable) or "none"
        raise PipelineError(f"cannot drop {unknown[0]}: removable blocks are {offered}")
    before = sum(p.numel() for p in model.parameters())
    dropped = []
    for name in step.blocks:
        parameters = sum(p.numel() for p in model.get_submodule(name).parameters())
        replace_module(model, name, nn.Identity())
        dropped.append(DroppedBlock(name, parameters))
    after = sum(p.numel() for p in model.parameters())
    seconds = time.perf_counter() - started
    return StepReport(step, tuple(dropped), before, after, seconds, model=model)


@torch.no_grad()
def ranked_blocks(model: nn.Module, calibration: torch.Tensor | Inputs | None) -> tuple[str, ...]:
    """The removable blocks, those that change their input least first."""
    removable = _removable(model)
    if not removable or calibration is None:
        return tuple(removable)
    change: dict[str, float] = {}

    def record(name: str):
        def hook(_module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            (x,) = args
            change[name] = ((output - x).norm() / x.norm().clamp_min(1e-12)).item()

        return hook

    handles = [model.get_submodule(n).register_forward_hook(record(n)) for n in removable]
    try:
        model.eval()(*rows(as_inputs(calibration, "calibration"), 0, 1))
    finally:
        for handle in handles:
            handle.remove()
    return tuple(sorted(removable, key=lambda name: change.get(name, float("inf"))))


def _check(names: Names, index: int, step: DepthStep) -> None:
    removable = names.tracked("removable block", _removable)
    names.known(index, step.blocks, removable, "removable block")
    for block in step.blocks:
        names.drop(block)


def _suggest(trial: optuna.Trial, catalog, space, state) -> DepthStep | None:
    offered = catalog.offers.get("depth", ())
    if not offered:
        return None
    count = trial.suggest_int("depth.blocks", 1, len(offered))
    blocks = list(offered[:count])
    state.drop(blocks)
    return DepthStep(blocks)


register(
    Technique(
        step_type=DepthStep,
        transform=drop_blocks,
        check=_check,
        letter="D",
        suggest=_suggest,
        offers=ranked_blocks,
    )
)
