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
``autocompress.models.repnet.fidelity``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.utils import _pytree

from autocompress.inputs import output_tensors

__all__ = ["logits_like", "named_outputs", "output_divergence"]


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

    An output whose shape differs between the two (an embedding a pruning narrowed) cannot be
    compared and is left out; when none can be, or the structures differ, ValueError.
    """
    reference = named_outputs(reference_outputs)
    compared = named_outputs(outputs)
    if [name for name, _ in reference] != [name for name, _ in compared]:
        raise ValueError("the two models' outputs differ in structure")
    named_logits = any("logit" in name.lower() for name, _ in reference)
    items: int | None = None
    parts = []
    for (name, ref), (_, out) in zip(reference, compared, strict=True):
        if ref.dim() == 0 or ref.shape != out.shape:
            continue
        if items is None:
            items = ref.shape[0]
        elif ref.shape[0] != items:
            raise ValueError(f"output {name or len(parts)} has {ref.shape[0]} items, not {items}")
        ref, out = ref.detach().double(), out.detach().double()
        as_logits = logits_like(name, ref, named_logits) if logits is None else logits
        parts.append(_kl(ref, out) if as_logits else _normalised_squares(ref, out))
    if not parts:
        raise ValueError("no output of the same shape in both models to compare")
    return torch.stack(parts).mean(0)
