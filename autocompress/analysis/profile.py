"""Sensitivity profile: where a RepNet's latency and weights are, per major submodule.

Each submodule is timed alone on exactly the tensors it receives inside a real forward pass
(captured with forward hooks), as the case study did by hand. MACs come from PyTorch's own
``FlopCounterMode``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from autocompress.evaluators.latency import Timing, TimingProtocol, measure
from autocompress.models.repnet import RepNet

__all__ = ["ModelProfile", "PartProfile", "plot_profile", "profile_repnet"]


@dataclass(frozen=True)
class PartProfile:
    name: str
    timing: Timing
    parameters: int
    macs: int


@dataclass(frozen=True)
class ModelProfile:
    parts: tuple[PartProfile, ...]
    total: Timing  # the whole model, timed end to end

    def latency_share(self, part: PartProfile) -> float:
        return part.timing.median_ms / sum(p.timing.median_ms for p in self.parts)

    def parameter_share(self, part: PartProfile) -> float:
        return part.parameters / max(1, sum(p.parameters for p in self.parts))


def _captured_inputs(model: RepNet, clip: torch.Tensor) -> dict[str, tuple[torch.Tensor, ...]]:
    """The positional inputs each top-level submodule receives during one forward pass."""
    captured: dict[str, tuple[torch.Tensor, ...]] = {}
    handles = [
        module.register_forward_pre_hook(
            lambda _m, args, name=name: captured.setdefault(name, tuple(args))
        )
        for name, module in model.named_children()
    ]
    try:
        with torch.no_grad():
            model(clip)
    finally:
        for handle in handles:
            handle.remove()
    return captured


def _macs(run: Callable[[], object]) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        run()
    return counter.get_total_flops() // 2


def profile_repnet(
    model: RepNet, batch_size: int = 1, protocol: TimingProtocol = TimingProtocol()
) -> ModelProfile:
    """Time and size the encoder, temporal conv, TSM + its conv and both heads."""
    model = model.eval()
    clip = torch.randn(batch_size, *model.config.input_shape).clamp(-1, 1)
    inputs = _captured_inputs(model, clip)
    parts: dict[str, tuple[Callable[[], object], list[nn.Module]]] = {
        "encoder": (lambda: model.encoder(*inputs["encoder"]), [model.encoder]),
        "temporal conv": (
            lambda: model.temporal_conv(*inputs["temporal_conv"]),
            [model.temporal_conv],
        ),
        "TSM + conv": (
            lambda: model.tsm_conv(model.tsm(*inputs["tsm"])),
            [model.tsm, model.tsm_conv],
        ),
        "period head": (
            lambda: model.period_length_head(*inputs["period_length_head"]),
            [model.period_length_head],
        ),
        "periodicity head": (
            lambda: model.periodicity_head(*inputs["periodicity_head"]),
            [model.periodicity_head],
        ),
    }
    profiles = tuple(
        PartProfile(
            name=name,
            timing=measure(run, protocol),
            parameters=sum(p.numel() for m in modules for p in m.parameters()),
            macs=_macs(run),
        )
        for name, (run, modules) in parts.items()
    )
    return ModelProfile(parts=profiles, total=measure(lambda: model(clip), protocol))


def plot_profile(profile: ModelProfile, path: Path, title: str) -> None:
    """Bar chart of each part's share of latency and of weights (the case study's Figure 3)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [p.name for p in profile.parts]
    positions = range(len(names))
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.4
    ax.bar(
        [x - width / 2 for x in positions],
        [100 * profile.latency_share(p) for p in profile.parts],
        width,
        label="latency",
    )
    ax.bar(
        [x + width / 2 for x in positions],
        [100 * profile.parameter_share(p) for p in profile.parts],
        width,
        label="parameters",
    )
    ax.set_xticks(list(positions), names)
    ax.set_ylabel("share of model (%)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
