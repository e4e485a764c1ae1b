"""Structured channel pruning with torch-pruning's dependency graph, driven group by group.

Groups are pruned one root layer at a time (not with torch-pruning's high-level pruner) so that
every requested ratio is either applied, or refused with a reason: the pruner silently drops a
group that touches a layer it cannot handle, which is how RepNet's Conv3d went unpruned.
"""

from __future__ import annotations

import time
import warnings

import torch
import torch_pruning as tp
from torch import nn

from autocompress.compression.calibration import example_input
from autocompress.compression.prune.step import PrunedLayer, PruneStep
from autocompress.compression.steps import PipelineError, StepReport
from autocompress.compression.structure import prunable_groups, structure_of
from autocompress.inputs import Inputs, output_tensors, split

__all__ = ["prune"]


def _out_channels(module: nn.Module) -> int:
    return module.out_features if isinstance(module, nn.Linear) else module.out_channels


def _out_fn(module: nn.Module):
    if isinstance(module, nn.Linear):
        return tp.prune_linear_out_channels
    return tp.prune_conv_out_channels


def kept_channels(channels: int, ratio: float, round_to: int | None) -> int:
    """How many output channels a ratio leaves (rounded to a multiple of ``round_to``)."""
    keep = round(channels * (1.0 - ratio))
    if round_to:
        keep = max(round_to, round(keep / round_to) * round_to)
    return min(keep, channels)


def _importance(name: str) -> tp.importance.Importance:
    if name == "bn_scale":
        return tp.importance.BNScaleImportance()
    if name == "taylor":
        return tp.importance.GroupTaylorImportance()
    return tp.importance.GroupMagnitudeImportance(p=2)


def _accumulate_gradients(model: nn.Module, calibration: Inputs | None) -> None:
    """Gradients for first-order Taylor importance. Without labels the loss is the energy of the
    outputs: a channel scores high when removing it would change what the model computes."""
    if calibration is None:
        raise PipelineError("taylor importance needs calibration data to compute gradients")
    model.zero_grad()
    for sample in split(calibration):
        outputs = output_tensors(model(*sample))
        sum(o.float().pow(2).mean() for o in outputs if o.is_floating_point()).backward()


def _refuse_tied(group: tp.dependency.Group, name: str, group_name: str) -> None:
    """Reject a group whose channels reach something whose width must not change."""
    for dep, _ in group:
        target = dep.target.module
        if isinstance(target, nn.MultiheadAttention):
            reason = "a MultiheadAttention embed_dim"
        elif isinstance(target, nn.Parameter):
            reason = f"a free parameter of shape {tuple(target.shape)} (e.g. a positional encoding)"
        else:
            continue
        raise PipelineError(
            f"cannot prune group {group_name!r}: the output channels of {name} are tied to "
            f"{reason} ({dep.target.name.partition(' (')[0]}), which this step does not prune"
        )


def _dependency_graph(model: nn.Module, example: Inputs) -> tp.DependencyGraph:
    return tp.DependencyGraph().build_dependency(
        model,
        example_inputs=example,
        customized_pruners=dict(structure_of(model).custom_pruners),
        verbose=False,  # free parameters are handled by _refuse_tied, not by a warning
    )


def prune(model: nn.Module, step: PruneStep, calibration: Inputs | None = None) -> StepReport:
    """Remove the least important output channels of every layer of every requested group."""
    start = time.perf_counter()
    groups = prunable_groups(model)
    unknown = [g for g in step.ratios if g not in groups]
    if unknown:
        raise PipelineError(
            f"unknown prune group(s) {', '.join(unknown)}; this model has: {', '.join(groups)}"
        )
    params_before = sum(p.numel() for p in model.parameters())
    was_training = model.training
    model.eval()
    importance = _importance(step.importance)
    if step.importance == "taylor":
        _accumulate_gradients(model, calibration)
    graph = _dependency_graph(model, example_input(model, calibration))

    targets = []
    for group_name, ratio in step.ratios.items():
        for name in groups[group_name]:
            module = model.get_submodule(name)
            channels = _out_channels(module)
            keep = kept_channels(channels, ratio, step.round_to)
            if keep < 1:
                raise PipelineError(f"ratio {ratio} leaves no channel of {name} ({channels})")
            targets.append((group_name, name, module, ratio, channels, keep))

    unreached: dict[str, str] = {}  # layer -> group: the calibration input never runs it
    for group_name, name, module, _, _, keep in targets:
        current = _out_channels(module)
        if current <= keep:  # already cut through a coupled layer (e.g. a residual stage)
            continue
        if module not in graph.module2node:  # the graph is traced on the calibration input
            unreached[name] = group_name
            continue
        full = graph.get_pruning_group(module, _out_fn(module), idxs=list(range(current)))
        _refuse_tied(full, name, group_name)
        scores = importance(full)
        if scores is None:
            raise PipelineError(
                f"importance {step.importance!r} cannot score {name} (group {group_name!r}); "
                "bn_scale needs a BatchNorm in the group"
            )
        idxs = torch.argsort(scores)[: current - keep].tolist()
        group = graph.get_pruning_group(module, _out_fn(module), idxs=idxs)
        if not graph.check_pruning_group(group):
            raise PipelineError(f"pruning {len(idxs)} channels of {name} would empty a layer")
        group.prune()
    model.zero_grad(set_to_none=True)
    model.train(was_training)

    layers = tuple(
        PrunedLayer(name, group_name, ratio, channels, _out_channels(module))
        for group_name, name, module, ratio, channels, _ in targets
        if name not in unreached
    )
    notes = _check_achieved(layers, {t[1]: t[5] for t in targets})
    if unreached:
        # No importance can be scored, nor a dependency traced, on a branch the input does not
        # take (its model branches on the data, and an earlier step moved the data): it stays.
        listed = ", ".join(f"{name} (group {group!r})" for name, group in unreached.items())
        note = f"left unpruned, the calibration input does not run them: {listed}"
        warnings.warn(note, stacklevel=2)
        notes += (note,)
    params_after = sum(p.numel() for p in model.parameters())
    seconds = time.perf_counter() - start
    return StepReport(step, layers, params_before, params_after, seconds, notes, model=model)


def _check_achieved(layers: tuple[PrunedLayer, ...], expected: dict[str, int]) -> tuple[str, ...]:
    """Compare every layer with what its ratio asked for: nothing done is an error, a different
    amount (a coupled layer with another ratio, rounding) a warning that is also reported."""
    notes = []
    for layer in layers:
        if layer.channels_after == expected[layer.name]:
            continue
        if layer.requested_ratio > 0 and layer.channels_after == layer.channels_before:
            raise PipelineError(
                f"requested ratio {layer.requested_ratio} of {layer.name} (group "
                f"{layer.group!r}) could not be applied: no channel was removed"
            )
        note = (
            f"{layer.name}: requested {layer.requested_ratio:.1%} -> {expected[layer.name]} "
            f"channels, got {layer.channels_after} ({layer.achieved_ratio:.1%}); a coupled layer "
            "in another group set its width"
        )
        warnings.warn(note, stacklevel=3)
        notes.append(note)
    for layer in layers:
        if layer.requested_ratio > 0 and expected[layer.name] == layer.channels_before:
            note = (
                f"{layer.name}: ratio {layer.requested_ratio} rounds to no channel removed "
                f"of {layer.channels_before}"
            )
            warnings.warn(note, stacklevel=3)
            notes.append(note)
    return tuple(notes)
