"""Inputs the steps need: one example to trace the model, batches to calibrate or score it."""

from __future__ import annotations

import torch
from torch import nn

from autocompress.compression.steps import PipelineError
from autocompress.compression.structure import structure_of
from autocompress.inputs import Inputs, rows

__all__ = ["example_input", "random_clips"]


def example_input(model: nn.Module, calibration: Inputs | None) -> Inputs:
    """One-sample input for tracing: the first calibration sample, else zeros of the input
    shape the model's family declares (autocompress.compression.structure), else an error
    naming what is missing."""
    if calibration is not None:
        return rows(calibration, 0, 1)
    shape = structure_of(model).input_shape(model)
    if shape is None:
        raise PipelineError(
            f"{type(model).__name__} declares no input shape: pass calibration data so the "
            "step can trace the model"
        )
    return (torch.zeros(1, *shape),)


def random_clips(model: nn.Module, count: int, seed: int = 0) -> torch.Tensor:
    """Uniform clips in [-1, 1] of the model's input shape: a stand-in when no videos are given
    (it calibrates ranges on the right scale, not on the real data distribution)."""
    generator = torch.Generator().manual_seed(seed)
    (example,) = example_input(model, None)
    shape = example.shape[1:]
    return torch.rand(count, *shape, generator=generator) * 2 - 1
