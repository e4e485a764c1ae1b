"""The project's one optimisation loop: training a RepNet and recovering a compressed one both
run it, with their own loss, schedule and per-step hook."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

__all__ = ["LossFn", "optimize"]

# A batch -> (loss to minimise, named float parts to report).
LossFn = Callable[[Any], tuple[torch.Tensor, dict[str, float]]]


def optimize(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterator[Any],
    loss_fn: LossFn,
    learning_rate_at: Callable[[int], float],
    first_step: int,
    stop_step: int,
    deadline: float = math.inf,
    after_step: Callable[[int, float, dict[str, float]], None] | None = None,
) -> int:
    """Gradient steps ``first_step`` .. ``stop_step - 1`` (gradients clipped to norm 1), or
    fewer when ``time.monotonic()`` passes ``deadline``; returns the next step's number.
    ``after_step(step_done, loss, parts)`` runs after each one (logging, checkpoints)."""
    step = first_step
    parameters = [p for p in model.parameters() if p.requires_grad]
    while step < stop_step and time.monotonic() < deadline:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step)
        loss, parts = loss_fn(next(batches))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        step += 1
        if after_step is not None:
            after_step(step, loss.item(), parts)
    return step
