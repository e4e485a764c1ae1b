"""Which parts of a model each technique may touch, by name: the vocabulary of the steps.

Layers inside ``nn.MultiheadAttention`` and PyTorch's ``nn.Transformer*Layer`` are left out
everywhere: those modules read their children's ``.weight`` directly (fused attention, the encoder
layer's fast path), so a factorised or quantized child breaks them or is silently bypassed.
"""

from __future__ import annotations

from collections.abc import Iterator

from torch import nn

from autocompress.models.repnet import RepNet

__all__ = [
    "decomposable_layers",
    "output_layer",
    "prunable_groups",
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


def _repnet_groups(model: RepNet) -> dict[str, list[str]]:
    groups = {"encoder.stem": ["encoder.stem.conv"]}
    for index, stage in enumerate(model.encoder.stages):
        prefix = f"encoder.stages.{index}.blocks"
        members = []
        for block_index, block in enumerate(stage.blocks):
            block_name = f"{prefix}.{block_index}"
            members += [f"{block_name}.conv1", f"{block_name}.conv2", f"{block_name}.conv3"]
            if block.downsample is not None:
                members.append(f"{block_name}.downsample.conv")
        groups[f"encoder.stages.{index}"] = members
    # The TSM conv is not offered: its output channels reach the heads through a channels-last
    # flatten that interleaves them with frames, which no dependency graph maps correctly.
    # The heads' residual width is tied to MultiheadAttention's embed_dim, also not prunable.
    groups["temporal_conv"] = ["temporal_conv.conv"]
    for head in ("period_length_head", "periodicity_head"):
        groups[f"{head}.transformer_layer.ffn"] = [f"{head}.transformer_layer.linear1"]
        groups[f"{head}.mlp"] = [f"{head}.fc1", f"{head}.fc2"]
    return {group: [output_layer(model, n) for n in names] for group, names in groups.items()}


def prunable_groups(model: nn.Module) -> dict[str, list[str]]:
    """Group name -> the layers whose output channels a :class:`PruneStep` ratio applies to.

    RepNet gets named groups (encoder stem and stages, temporal conv, each head's feed-forward
    and MLP). Any other model gets one group per Conv/Linear layer but the last one registered
    (taken to be the output layer, whose width is the task's); a narrower layer keeps the type
    its parent reads, so only attention's own projections are left out."""
    if isinstance(model, RepNet):
        return _repnet_groups(model)
    names = [name for name, _ in weight_layers(model, (nn.MultiheadAttention,))]
    return {name: [name] for name in names[:-1]}


def replace_module(model: nn.Module, name: str, replacement: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, replacement)
