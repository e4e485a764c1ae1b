"""Which parts of a model each technique may touch, by name: the vocabulary of the steps.

Layers inside ``nn.MultiheadAttention`` and PyTorch's ``nn.Transformer*Layer`` are left out
everywhere: those modules read their children's ``.weight`` directly (fused attention, the encoder
layer's fast path), so a factorised or quantized child breaks them or is silently bypassed.
"""

from __future__ import annotations

from collections.abc import Iterator

from torch import nn

__all__ = [
    "decomposable_layers",
    "output_layer",
    "per_layer_groups",
    "quantizable_layers",
    "replace_module",
    "weight_layers",
]

WEIGHT_LAYER_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
_OPAQUE_PARENTS = (
    nn.MultiheadAttention,
    nn.TransformerEncoderLayer,
    nn.TransformerDecoderLayer,
)


def weight_layers(
    model: nn.Module, opaque_parents: tuple[type, ...] = _OPAQUE_PARENTS
) -> Iterator[tuple[str, nn.Module]]:
    """Float Conv/Linear layers whose parents call them as modules (see the module docstring)."""
    opaque = [name for name, module in model.named_modules() if isinstance(module, opaque_parents)]
    for name, module in model.named_modules():
        if type(module) in WEIGHT_LAYER_TYPES and not any(
            name.startswith(prefix + ".") for prefix in opaque
        ):
            yield name, module


def decomposable_layers(model: nn.Module) -> list[str]:
    """Layers a :class:`TensorizeStep` may factorise: Conv (groups=1) and Linear with at least
    two input and two output channels (a rank-1 side leaves nothing to factorise)."""
    names = []
    for name, module in weight_layers(model):
        if isinstance(module, nn.Linear):
            dims = (module.in_features, module.out_features)
        elif module.groups == 1:
            dims = (module.in_channels, module.out_channels)
        else:
            continue
        if min(dims) >= 2:
            names.append(name)
    return names


def quantizable_layers(model: nn.Module) -> list[str]:
    """Layers a :class:`QuantizeStep` may select (Linear only for dynamic mode)."""
    return [name for name, _ in weight_layers(model)]


def output_layer(model: nn.Module, name: str) -> str:
    """The layer that produces ``name``'s output channels: itself, or for a factorised layer (an
    ``nn.Sequential`` of factors) its last factor."""
    module = model.get_submodule(name)
    while isinstance(module, nn.Sequential):
        last = str(len(module) - 1)
        name, module = f"{name}.{last}", module[-1]
    return name


def per_layer_groups(model: nn.Module) -> dict[str, list[str]]:
    """One prune group per Conv/Linear layer but the last one registered (taken to be the
    output layer, whose width is the task's); a narrower layer keeps the type its parent reads,
    so only attention's own projections are left out."""
    names = [name for name, _ in weight_layers(model, (nn.MultiheadAttention,))]
    return {name: [name] for name in names[:-1]}


def replace_module(model: nn.Module, name: str, replacement: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, replacement)
