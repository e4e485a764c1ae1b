"""A model's inputs as PyTorch's conventions have them: a tuple of positional arguments
(``torch.export``, ``prepare_fx`` and ``torch.compile`` take one), each a tensor with the batch
dimension first. A lone tensor is the tuple of one; a batch of inputs is sliced row-wise in
every argument at once.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils import _pytree

from autocompress.errors import UserError

__all__ = [
    "Inputs",
    "as_inputs",
    "batch_size",
    "output_tensors",
    "repeated",
    "rows",
    "run",
    "split",
]

Inputs = tuple[torch.Tensor, ...]


def as_inputs(value: object, what: str = "example_inputs") -> Inputs:
    """``value`` as positional inputs: a tensor, or a tuple or list of tensors sharing their
    first (batch) dimension; anything else is refused naming ``what``."""
    items = (value,) if torch.is_tensor(value) else value
    if not isinstance(items, tuple | list) or not items:
        raise UserError(
            f"{what} must be a tensor or a tuple of tensors (positional arguments, batch "
            f"dimension first), not {type(value).__name__}"
        )
    for index, item in enumerate(items):
        if not torch.is_tensor(item) or item.dim() < 1:
            kind = f"a {item.dim()}-d tensor" if torch.is_tensor(item) else type(item).__name__
            raise UserError(
                f"{what}[{index}] must be a tensor with the batch dimension first, not {kind}"
            )
    sizes = {item.shape[0] for item in items}
    if len(sizes) > 1:
        shapes = ", ".join(str(tuple(item.shape)) for item in items)
        raise UserError(f"{what}: the batch (first) dimensions differ: {shapes}")
    return tuple(items)


def batch_size(inputs: Inputs) -> int:
    return inputs[0].shape[0]


def rows(inputs: Inputs, start: int, stop: int | None = None) -> Inputs:
    """Samples ``start`` to ``stop`` of every argument."""
    return tuple(item[start:stop] for item in inputs)


def split(inputs: Inputs) -> list[Inputs]:
    """One-sample inputs, one per sample of ``inputs``."""
    return [rows(inputs, index, index + 1) for index in range(batch_size(inputs))]


def repeated(inputs: Inputs, count: int) -> Inputs:
    """The first sample of every argument repeated ``count`` times (a timing batch)."""
    return tuple(item[:1].expand(count, *item.shape[1:]).contiguous() for item in inputs)


def run(model: Any, inputs: Inputs) -> Any:
    """``model(*inputs)``."""
    return model(*inputs)


def output_tensors(outputs: Any) -> list[torch.Tensor]:
    """The tensors of a model's outputs, whatever their structure (a tensor, a tuple, a dict,
    a Hugging Face ``ModelOutput``)."""
    return [leaf for leaf in _pytree.tree_leaves(outputs) if torch.is_tensor(leaf)]
