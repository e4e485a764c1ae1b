"""A technique in one file: unstructured magnitude sparsity (the smallest weights of chosen
layers set to zero). Its step, transform, name check and space part all live here."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import optuna
import torch
from torch import nn

from autocompress.compression.names import Names
from autocompress.compression.registry import Technique, register
from autocompress.compression.steps import PipelineError, StepReport


@dataclass(frozen=True)
class SparsifyStep:
    layers: list[str]
    amount: float = 0.5

    kind: ClassVar[str] = "sparsify"

    def __post_init__(self) -> None:
        if not 0.0 <= self.amount < 1.0:
            raise PipelineError(f"sparsify amount must be in [0, 1), got {self.amount}")

    def summary(self) -> str:
        return f"sparsify {len(self.layers)} layers {self.amount:.0%}"


@torch.no_grad()
def sparsify(model: nn.Module, step: SparsifyStep, inputs: object = None) -> StepReport:
    started = time.perf_counter()
    params = sum(p.numel() for p in model.parameters())
    for name in step.layers:
        weight = model.get_submodule(name).weight
        count = int(weight.numel() * step.amount)
        if count:
            threshold = weight.abs().flatten().kthvalue(count).values
            weight[weight.abs() <= threshold] = 0.0
    seconds = time.perf_counter() - started
    return StepReport(step, (), params, params, seconds, model=model)


def _check(names: Names, index: int, step: SparsifyStep) -> None:
    names.known(index, step.layers, names.quantizable, "layer")


def _suggest(trial: optuna.Trial, catalog, space, state) -> SparsifyStep | None:
    amount = trial.suggest_float("sparsify.amount", 0.1, 0.9)
    layers = [name for name in catalog.quantizable if state.present(name)]
    layers = [factor for name in layers for factor in state.factored.get(name, (name,))]
    return SparsifyStep(layers, amount) if layers else None


register(
    Technique(
        step_type=SparsifyStep,
        transform=sparsify,
        check=_check,
        letter="S",
        suggest=_suggest,
        recoverable=True,
    )
)
