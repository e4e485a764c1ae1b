"""RepNet as the compression steps must see it: its prune groups, the pruner that stops
torch-pruning's dependency graph at the temporal self-similarity matrix, how recovery distils
it, and which encoder blocks depth pruning may drop."""

from __future__ import annotations

import torch_pruning as tp
from torch import nn

from autocompress.compression.layers import output_layer
from autocompress.compression.structure import ModelStructure, register_structure
from autocompress.models.repnet.distillation import RepNetDistillation
from autocompress.models.repnet.network import PreActBottleneck, RepNet, TemporalSelfSimilarity

__all__ = ["REPNET_STRUCTURE", "repnet_groups", "repnet_removable_blocks"]


class _TemporalSelfSimilarityPruner(tp.pruner.BasePruningFunc):
    """Ends the dependency graph at the TSM: its output has one channel whatever the embedding
    width, so pruning the embedding needs nothing from it. Without this, the graph sees the
    distances and softmax as element-wise, ties the embedding to the TSM conv's single input
    channel, and the temporal conv's group cannot be pruned."""

    TARGET_MODULES = (TemporalSelfSimilarity,)

    def prune_out_channels(self, layer: nn.Module, idxs: list[int]) -> nn.Module:
        return layer

    def prune_in_channels(self, layer: nn.Module, idxs: list[int]) -> nn.Module:
        return layer

    def get_out_channels(self, layer: nn.Module) -> None:
        return None

    def get_in_channels(self, layer: nn.Module) -> None:
        return None


def repnet_groups(model: RepNet) -> dict[str, list[str]]:
    """The encoder stem and each residual stage (one width per stage), the temporal conv, and
    each head's feed-forward and MLP."""
    groups = {"encoder.stem": ["encoder.stem.conv"]}
    for index, stage in enumerate(model.encoder.stages):
        prefix = f"encoder.stages.{index}.blocks"
        members = []
        for block_index, block in enumerate(stage.blocks):
            if isinstance(block, nn.Identity):  # dropped by depth pruning
                continue
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


def repnet_removable_blocks(model: RepNet) -> list[str]:
    """Encoder bottlenecks whose shortcut is the identity (not a stage's first, projecting
    block, nor a strided one): dropping one leaves every shape as it was."""
    return [
        f"encoder.stages.{index}.blocks.{block_index}"
        for index, stage in enumerate(model.encoder.stages)
        for block_index, block in enumerate(stage.blocks)
        if isinstance(block, PreActBottleneck) and block.downsample is None and block.pool is None
    ]


REPNET_STRUCTURE = ModelStructure(
    prune_groups=repnet_groups,
    custom_pruners={TemporalSelfSimilarity: _TemporalSelfSimilarityPruner()},
    distillation=RepNetDistillation(),
    removable_blocks=repnet_removable_blocks,
    input_shape=lambda model: model.config.input_shape,
)
register_structure(RepNet, REPNET_STRUCTURE)
