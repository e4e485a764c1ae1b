"""A RepNet, eager or traced, as its per-frame encoder and the rest of the model.

RepNet's encoder sees each frame alone, so counting encodes every frame of a video once and
shares its features between all the chunks that hold it
(:mod:`autocompress.models.repnet.counting`).
An eager :class:`RepNet` offers both halves as methods. An int8 model is an FX graph with the
encoder inlined; it is cut at the node where ``RepNet.forward`` regroups the frames' features
into clips (``features.unflatten(0, (batch, frames))``), found by the pattern that forward
writes: the only input, transposed to frames-first and flattened into a batch of frames,
encoded, unflattened along dimension 0.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import fx, nn

from autocompress.models.repnet.network import RepNet

__all__ = ["FrameSplit", "frame_split"]


@dataclass(frozen=True)
class FrameSplit:
    """``head(encode(frames)[index])`` equals the model on the clips ``frames[index]``."""

    encode: Callable[[torch.Tensor], torch.Tensor]  # frames N x 3 x H x W -> N x features
    head: Callable[[torch.Tensor], tuple[torch.Tensor, ...]]  # clips B x T x features -> outputs


_graph_splits: weakref.WeakKeyDictionary[fx.GraphModule, FrameSplit | None] = (
    weakref.WeakKeyDictionary()
)


def frame_split(model: nn.Module) -> FrameSplit | None:
    """The two halves of ``model``, or None for a model that is not a RepNet."""
    if isinstance(model, RepNet):
        return FrameSplit(model.encoder, model.from_frame_features)
    if not isinstance(model, fx.GraphModule):
        return None
    if model not in _graph_splits:  # cutting a graph recompiles it: once per model
        _graph_splits[model] = _split_graph(model)
    return _graph_splits[model]


def _split_graph(model: fx.GraphModule) -> FrameSplit | None:
    placeholders = [node for node in model.graph.nodes if node.op == "placeholder"]
    if len(placeholders) != 1:
        return None
    (video,) = placeholders
    regroup = next((node for node in model.graph.nodes if _regroups_frames(node, video)), None)
    if regroup is None:
        return None
    encoder = _subgraph(model, {video: "video"}, regroup.args[0])
    (output,) = [node for node in model.graph.nodes if node.op == "output"]
    head = _subgraph(model, {regroup: "features"}, output.args[0])
    if encoder is None or head is None:
        return None

    def encode(frames: torch.Tensor) -> torch.Tensor:
        return encoder(frames.transpose(0, 1).unsqueeze(0))  # one clip of every frame

    return FrameSplit(encode, head)


def _regroups_frames(node: fx.Node, video: fx.Node) -> bool:
    """``features.unflatten(0, ...)`` where ``features`` was computed from
    ``video.transpose(1, 2).reshape(...)``, as ``RepNet.forward`` writes it."""
    if not (node.op == "call_method" and node.target == "unflatten" and node.args[1:2] == (0,)):
        return False
    frames_first = [
        user
        for user in video.users
        if user.op == "call_method" and user.target == "transpose" and user.args[1:] == (1, 2)
    ]
    flattened = [user for first in frames_first for user in first.users if user.target == "reshape"]
    return len(flattened) == 1 and flattened[0] in _ancestors([node.args[0]], stop=set())


def _ancestors(nodes: Iterable[fx.Node], stop: set[fx.Node]) -> set[fx.Node]:
    seen: set[fx.Node] = set()
    pending = [node for node in nodes if node not in stop]
    while pending:
        node = pending.pop()
        if node not in seen:
            seen.add(node)
            pending.extend(n for n in node.all_input_nodes if n not in stop)
    return seen


def _subgraph(
    model: fx.GraphModule, inputs: dict[fx.Node, str], result: fx.node.Argument
) -> fx.GraphModule | None:
    """The part of ``model`` that computes ``result`` (a node, or a structure of nodes as the
    model's output) from ``inputs`` alone; None when it needs another input of the model."""
    results: list[fx.Node] = []
    fx.map_arg(result, results.append)
    graph = fx.Graph()
    copies = {node: graph.placeholder(name) for node, name in inputs.items()}
    required = _ancestors(results, stop=set(inputs))
    for node in model.graph.nodes:
        if node in required:
            if node.op == "placeholder":
                return None
            copies[node] = graph.node_copy(node, copies.__getitem__)
    graph.output(fx.map_arg(result, copies.__getitem__))
    return fx.GraphModule(model, graph)
