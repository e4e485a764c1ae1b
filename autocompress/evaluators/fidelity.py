"""Fidelity: how far a compressed model's outputs move from the uncompressed model's, per item.

Every error objective needs labelled items, and on a few of them it is noisy: a count or a
top-1 decision moves in whole steps. Comparing the compressed model's outputs with the
uncompressed model's on the same inputs needs no labels, so it can be averaged over as many
items as time allows, and it moves with every bit of damage, not only with damage that flips a
decision. This module is the default for any model: it takes the outputs of both models (a
tensor, a tuple, a dict, a Hugging Face ``ModelOutput``), and per item averages over their
tensors

- the KL divergence of the compressed model's softmax over the last dimension from the
  uncompressed model's, where an output is logits-like;
- else the mean squared difference, divided by the variance of the uncompressed model's output
  (over the whole batch given), so outputs of any scale weigh alike.

A model family with outputs of known meaning may do better (RepNet's:
``autocompress.models.repnet.fidelity``). :class:`FidelityTask` makes it the task of a model
whose user has no labelled data: the search then keeps the model's outputs, not a score.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils import _pytree

from autocompress.inputs import Inputs, batch_size, output_tensors, rows

__all__ = ["FIDELITY_CAP", "FidelityTask", "logits_like", "named_outputs", "output_divergence"]

# The divergence a model with no labelled task may reach by default: a KL of 0.01 nats on
# logits, or an output error of 1 % of its variance (a 20 dB signal-to-noise ratio), about what
# int8 alone costs a model that quantizes well, and far under what a pruning that breaks it does.
FIDELITY_CAP = 0.01


def named_outputs(outputs: Any) -> list[tuple[str, torch.Tensor]]:
    """The tensors of ``outputs`` with where each sits (``['logits']``, ``[0]``), in
    ``output_tensors``' order; names are empty where a structure does not say them."""
    try:
        leaves = _pytree.tree_flatten_with_path(outputs)[0]
    except (TypeError, ValueError, NotImplementedError):  # a node registered without its keys
        return [("", tensor) for tensor in output_tensors(outputs)]
    return [(_pytree.keystr(path), leaf) for path, leaf in leaves if torch.is_tensor(leaf)]


def logits_like(name: str, tensor: torch.Tensor, named_logits: bool) -> bool:
    """Whether an output reads as logits over its last dimension: named so (``logits``) where
    any output of the model is, else a floating items x classes matrix (a classifier's)."""
    if not tensor.is_floating_point() or tensor.dim() < 2 or tensor.shape[-1] < 2:
        return False
    if named_logits:
        return "logit" in name.lower()
    return tensor.dim() == 2


def _kl(reference: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """Per item: KL(reference || output) of the softmaxes of the last dimension, averaged over
    the dimensions between."""
    per_row = F.kl_div(
        F.log_softmax(output, -1), F.log_softmax(reference, -1), log_target=True, reduction="none"
    ).sum(-1)
    return per_row.reshape(len(per_row), -1).mean(1)


def _normalised_squares(reference: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """Per item: the mean squared difference over the reference's variance (1 if constant)."""
    variance = reference.var(unbiased=False) if reference.numel() > 1 else reference.new_zeros(())
    scale = variance if variance > 0 else reference.new_ones(())
    squares = (output - reference).square() / scale
    return squares.reshape(len(squares), -1).mean(1)


def output_divergence(
    reference_outputs: Any, outputs: Any, logits: bool | None = None
) -> torch.Tensor:
    """Per item (the first dimension of every output), how far ``outputs`` are from
    ``reference_outputs`` (the uncompressed model's on the same inputs): 0 for identical
    outputs, more the further they move (module notes). ``logits`` forces every output to be
    read as logits (True) or not (False); None decides per output (:func:`logits_like`).

    Outputs of another structure or shape (an embedding a pruning narrowed) cannot be
    compared: ValueError naming the first, not a reading of the others alone.
    """
    reference = named_outputs(reference_outputs)
    compared = named_outputs(outputs)
    if [name for name, _ in reference] != [name for name, _ in compared]:
        raise ValueError("the two models' outputs differ in structure")
    named_logits = any("logit" in name.lower() for name, _ in reference)
    items: int | None = None
    parts = []
    for (name, ref), (_, out) in zip(reference, compared, strict=True):
        if ref.shape != out.shape:
            raise ValueError(
                f"output {name or len(parts)} changed shape: {tuple(ref.shape)} -> "
                f"{tuple(out.shape)}"
            )
        if ref.dim() == 0:
            continue
        if items is None:
            items = ref.shape[0]
        elif ref.shape[0] != items:
            raise ValueError(f"output {name or len(parts)} has {ref.shape[0]} items, not {items}")
        ref, out = ref.detach().double(), out.detach().double()
        as_logits = logits_like(name, ref, named_logits) if logits is None else logits
        parts.append(_kl(ref, out) if as_logits else _normalised_squares(ref, out))
    if not parts:
        raise ValueError("the models have no output with items to compare")
    return torch.stack(parts).mean(0)


@dataclass(frozen=True)
class FidelityTask:
    """Per input row: how far a model's outputs are from the uncompressed ``reference``'s
    (:func:`output_divergence`); the task of a model given without an evaluation. The
    reference's outputs are computed once per batch of rows and kept."""

    reference: nn.Module
    inputs: Inputs  # positional arguments, one row per item
    batch: int = 8  # rows run at once
    objectives: tuple[str, ...] = ("fidelity",)
    _reference_outputs: dict[tuple[int, int], Any] = field(
        default_factory=dict, compare=False, repr=False
    )

    def item_count(self) -> int:
        return batch_size(self.inputs)

    @torch.no_grad()
    def item_errors(self, model: nn.Module, start: int, stop: int) -> np.ndarray:
        parts = []
        for first in range(start, stop, self.batch):
            span = (first, min(first + self.batch, stop))
            if span not in self._reference_outputs:
                self._reference_outputs[span] = _outputs(self.reference, rows(self.inputs, *span))
            outputs = _outputs(model, rows(self.inputs, *span))
            parts.append(output_divergence(self._reference_outputs[span], outputs).numpy())
        return np.concatenate(parts).reshape(-1, 1) if parts else np.zeros((0, 1))


def _outputs(model: nn.Module, inputs: Inputs) -> Any:
    """``model``'s outputs in eval mode (a loaded artifact has no mode), the caller's after."""
    was_training = getattr(model, "training", False)
    if was_training:
        model.eval()
    try:
        return model(*inputs)
    finally:
        if was_training:
            model.train()
