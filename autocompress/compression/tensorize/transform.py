"""Replace Conv/Linear layers by chains of smaller plain layers built from low-rank factors.

- Tucker-2 of a ConvNd: 1x1 conv (in -> R_in), the core as a conv with the original kernel,
  stride, padding and dilation (R_in -> R_out), 1x1 conv (R_out -> out, original bias).
- CP of a ConvNd (Lebedev et al. 2015): 1x1 conv (in -> R), one depthwise conv per spatial axis,
  1x1 conv (R -> out). Needs numeric zero padding, which separates per axis.
- SVD of a Linear: Linear (in -> R) then Linear (R -> out).

The replacement is an ``nn.Sequential`` of plain ``nn.Conv*``/``nn.Linear`` under the original
name, so the model still scripts and exports, and later steps address the factors as
``name.0``, ``name.1``, ...
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn

from autocompress.compression.layers import decomposable_layers, replace_module
from autocompress.compression.steps import PipelineError, StepReport
from autocompress.compression.tensorize import factorize
from autocompress.compression.tensorize.step import Rank, TensorizedLayer, TensorizeStep

__all__ = ["factor_names", "tensorize"]

_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


def _method(module: nn.Module, method: str) -> str:
    return "svd" if isinstance(module, nn.Linear) else method


def factor_names(name: str, module: nn.Module, method: str) -> list[str]:
    """Names the factors of ``module`` will have once factorised (for validating pipelines)."""
    method = _method(module, method)
    count = {"svd": 2, "tucker": 3}.get(method, 2 + module.weight.dim() - 2)
    return [f"{name}.{index}" for index in range(count)]


def _channel_fraction(fraction: float, channels: int) -> int:
    return max(1, math.ceil(fraction * channels))


def resolve_rank(module: nn.Module, rank: Rank, method: str) -> tuple[int, ...]:
    """The concrete rank(s) of a rank spec: Tucker gets (R_out, R_in), CP and SVD one R."""
    weight = module.weight.detach().numpy()
    out_channels, in_channels = weight.shape[:2]
    method = _method(module, method)
    if method == "svd":
        limit = min(out_channels, in_channels)
        if rank == "vbmf":
            return (min(factorize.unfolding_ranks(weight)[0], limit),)
        if isinstance(rank, float):
            return (_channel_fraction(rank, limit),)
        return (min(rank, limit),)
    if rank == "vbmf":
        ranks = factorize.unfolding_ranks(weight)
    elif isinstance(rank, float):
        ranks = (_channel_fraction(rank, out_channels), _channel_fraction(rank, in_channels))
    else:
        ranks = (min(rank, out_channels), min(rank, in_channels))
    if method == "tucker":
        return ranks
    # CP: one rank for all modes, the larger channel rank, at most the rank cap.
    chosen = rank if isinstance(rank, int) and not isinstance(rank, bool) else max(ranks)
    return (min(chosen, factorize.cp_rank_cap(weight.shape)),)


def _refuse_slow_cp(layers: dict[str, tuple[tuple[int, ...], int]]) -> None:
    """The time cap: a step whose CPs (``layers``: name -> weight shape and rank) together are
    estimated to take longer than ``CP_TIME_CAP_S`` is refused before any starts, naming its
    slowest layer and the largest rank that layer could take alone."""
    seconds = {name: factorize.cp_seconds(*shape_rank) for name, shape_rank in layers.items()}
    total = sum(seconds.values())
    if total <= factorize.CP_TIME_CAP_S:
        return
    name = max(seconds, key=seconds.__getitem__)
    shape, rank = layers[name]
    fits = factorize.cp_rank_within(shape, factorize.CP_TIME_CAP_S)
    cap = f"cap {factorize.CP_TIME_CAP_S:.0f} s"
    if len(layers) == 1:
        raise PipelineError(
            f"CP of {name} at rank {rank} would take about {total:.0f} s ({cap}); use tucker "
            f"or a rank of at most {fits}"
        )
    raise PipelineError(
        f"CP of {len(layers)} layers would take about {total:.0f} s together ({cap}), "
        f"{seconds[name]:.0f} s of it {name} at rank {rank}; use tucker, fewer layers or lower "
        "ranks"
    )


def _conv(dims: int, in_ch: int, out_ch: int, weight: np.ndarray, **options) -> nn.Module:
    layer = _CONV[dims](in_ch, out_ch, weight.shape[2:], bias=False, **options)
    layer.weight.data.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
    return layer


def _with_bias(layer: nn.Module, bias: torch.Tensor | None) -> nn.Module:
    if bias is not None:
        layer.bias = nn.Parameter(bias.detach().clone())
    return layer


def _tucker_conv(conv: nn.Module, ranks: tuple[int, ...]) -> tuple[nn.Module, float]:
    dims = conv.weight.dim() - 2
    weight = conv.weight.detach().numpy()
    core, out_factor, in_factor, error = factorize.tucker2(weight, tuple(ranks))
    unit = (1,) * dims
    first = _conv(dims, conv.in_channels, ranks[1], in_factor.T.reshape(ranks[1], -1, *unit))
    middle = _conv(
        dims,
        ranks[1],
        ranks[0],
        core,
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        padding_mode=conv.padding_mode,
    )
    last = _conv(dims, ranks[0], conv.out_channels, out_factor.reshape(-1, ranks[0], *unit))
    return nn.Sequential(first, middle, _with_bias(last, conv.bias)), error


def _cp_conv(conv: nn.Module, ranks: tuple[int, ...]) -> tuple[nn.Module, float]:
    if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
        raise PipelineError(
            "CP splits a convolution per spatial axis, which needs numeric zero padding; "
            f"got padding={conv.padding!r}, padding_mode={conv.padding_mode!r} (use tucker)"
        )
    (rank,) = ranks
    dims = conv.weight.dim() - 2
    weights, factors, error = factorize.cp(conv.weight.detach().numpy(), rank)
    out_factor, in_factor, *spatial = factors
    unit = (1,) * dims
    layers = [_conv(dims, conv.in_channels, rank, in_factor.T.reshape(rank, -1, *unit))]
    for axis, kernel in enumerate(spatial):

        def along(values: tuple[int, ...], fill: int, axis: int = axis) -> tuple[int, ...]:
            return tuple(v if i == axis else fill for i, v in enumerate(values))

        shape = (rank, 1, *along(tuple(kernel.shape[0] for _ in range(dims)), 1))
        layers.append(
            _conv(
                dims,
                rank,
                rank,
                kernel.T.reshape(shape),
                groups=rank,
                stride=along(conv.stride, 1),
                padding=along(conv.padding, 0),
                dilation=along(conv.dilation, 1),
            )
        )
    scaled = (out_factor * weights[None, :]).reshape(-1, rank, *unit)
    layers.append(_with_bias(_conv(dims, rank, conv.out_channels, scaled), conv.bias))
    return nn.Sequential(*layers), error


def _svd_linear(linear: nn.Linear, ranks: tuple[int, ...]) -> tuple[nn.Module, float]:
    (rank,) = ranks
    left, right, error = factorize.svd(linear.weight.detach().numpy(), rank)
    first = nn.Linear(linear.in_features, rank, bias=False)
    first.weight.data.copy_(torch.from_numpy(right))
    second = nn.Linear(rank, linear.out_features, bias=False)
    second.weight.data.copy_(torch.from_numpy(left))
    return nn.Sequential(first, _with_bias(second, linear.bias)), error


_BUILDERS = {"tucker": _tucker_conv, "cp": _cp_conv, "svd": _svd_linear}


def _parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@torch.no_grad()
def tensorize(model: nn.Module, step: TensorizeStep, calibration: object = None) -> StepReport:
    """Factorise every layer named in ``step.ranks``; ``calibration`` is not needed."""
    start = time.perf_counter()
    allowed = set(decomposable_layers(model))
    unknown = [name for name in step.ranks if name not in allowed]
    if unknown:
        raise PipelineError(
            f"cannot tensorize {', '.join(unknown)}: not a decomposable layer of this model "
            "(see decomposable_layers)"
        )
    params_before = _parameters(model)
    resolved = {}  # every rank resolved and within the caps before any layer is replaced
    for name, rank_spec in step.ranks.items():
        module = model.get_submodule(name)
        method = _method(module, step.method)
        resolved[name] = module, method, resolve_rank(module, rank_spec, step.method)
    _refuse_slow_cp(
        {
            name: (tuple(module.weight.shape), ranks[0])
            for name, (module, method, ranks) in resolved.items()
            if method == "cp"
        }
    )
    layers, notes = [], []
    for name, (module, method, ranks) in resolved.items():
        replacement, error = _BUILDERS[method](module, ranks)
        replacement.train(module.training)
        replace_module(model, name, replacement)
        before, after = _parameters(module), _parameters(replacement)
        layers.append(TensorizedLayer(name, method, ranks, error, before, after))
        if after >= before:
            notes.append(f"{name}: rank {ranks} leaves {after:,} parameters (had {before:,})")
    return StepReport(
        step,
        tuple(layers),
        params_before,
        _parameters(model),
        time.perf_counter() - start,
        tuple(notes),
        model=model,
    )
