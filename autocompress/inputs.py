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
    "DTYPES",
    "Inputs",
    "as_inputs",
    "batch_size",
    "described_inputs",
    "input_spec",
    "output_tensors",
    "repeated",
    "rows",
    "run",
    "split",
    "type_name",
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


# Input types by the names PyTorch's mobile benchmark reads (``--input_type``).
DTYPES = {
    "float": torch.float32,
    "int64": torch.int64,
    "int32": torch.int32,
    "uint8": torch.uint8,
    "bool": torch.bool,
}


def type_name(dtype: torch.dtype) -> str:
    """The name of ``dtype`` in :data:`DTYPES` (another float type: ``float``)."""
    return next((name for name, known in DTYPES.items() if known == dtype), "float")


# Example inputs described by shape are random, from a fixed seed, so a resumed study rebuilds
# the same ones. Integer types hold 0 or 1 (INTEGER_HIGH excluded): valid token ids of any
# vocabulary, attention masks and indices alike; floats are standard normal; bool random.
INPUT_SEED = 0
INTEGER_HIGH = 2


def input_spec(shape: str, types: str | None = None) -> list[tuple[tuple[int, ...], torch.dtype]]:
    """Each input's shape and type as ``speed_benchmark_torch``'s ``--input_dims`` and
    ``--input_type`` write them (so do the latency command and local_runner): shapes
    ``1,3,224,224``, several joined by ``;`` (``1,16;1,16``), types likewise (``int64;int64``;
    default float)."""
    try:
        shapes = [tuple(int(size) for size in part.split(",")) for part in shape.split(";")]
    except ValueError:
        raise UserError(
            f"input_shape: {shape!r}; expected sizes like 1,3,224,224 (inputs joined by ;)"
        ) from None
    if any(not dims or min(dims) < 1 for dims in shapes):
        raise UserError(f"input_shape: {shape!r}; every size must be >= 1")
    names = types.split(";") if types else ["float"] * len(shapes)
    unknown = [name for name in names if name not in DTYPES]
    if unknown:
        raise UserError(f"input_type: {unknown[0]!r}; choose from {', '.join(DTYPES)}")
    if len(names) != len(shapes):
        raise UserError(
            f"input_type: {len(names)} types for {len(shapes)} input shapes; give one per input"
        )
    return list(zip(shapes, (DTYPES[name] for name in names), strict=True))


def described_inputs(shape: str, types: str | None = None, rows: int | None = None) -> Inputs:
    """Random inputs of these shapes and types (see INPUT_SEED for their values); ``rows``
    replaces the first (batch) size: more samples of the same kind."""
    generator = torch.Generator().manual_seed(INPUT_SEED)
    tensors = []
    for dims, dtype in input_spec(shape, types):
        dims = dims if rows is None else (rows, *dims[1:])
        if dtype.is_floating_point:
            tensors.append(torch.randn(dims, generator=generator, dtype=dtype))
        else:
            tensors.append(torch.randint(0, INTEGER_HIGH, dims, generator=generator).to(dtype))
    return as_inputs(tuple(tensors), f"input_shape {shape!r}")
