"""Sensitivity profile: where a model's latency and weights are, per major part.

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

from autocompress.inputs import Inputs, as_inputs
from autocompress.timing import Timing, TimingProtocol, measure

__all__ = ["ModelProfile", "PartProfile", "plot_profile", "profile_model"]


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

    def __str__(self) -> str:
        """Each part's latency and weights, with their shares, and the whole model's."""
        lines = [
            f"{'part':<18}{'median ms':>11}{'spread':>9}{'latency':>9}"
            f"{'params':>12}{'weights':>9}{'GMACs':>9}"
        ]
        for part in self.parts:
            lines.append(
                f"{part.name:<18}{part.timing.median_ms:>11.2f}{part.timing.spread_ms:>9.2f}"
                f"{self.latency_share(part):>9.1%}{part.parameters:>12,}"
                f"{self.parameter_share(part):>9.1%}{part.macs / 1e9:>9.3f}"
            )
        parameters = sum(p.parameters for p in self.parts)
        macs = sum(p.macs for p in self.parts)
        lines.append(
            f"{'whole model':<18}{self.total.median_ms:>11.2f}{self.total.spread_ms:>9.2f}"
            f"{'':>9}{parameters:>12,}{'':>9}{macs / 1e9:>9.3f}"
        )
        return "\n".join(lines)


def _captured_inputs(
    model: nn.Module, example: Inputs, names: set[str]
) -> dict[str, tuple[torch.Tensor, ...]]:
    """The positional inputs each submodule in ``names`` receives during one forward pass."""
    captured: dict[str, tuple[torch.Tensor, ...]] = {}
    handles = [
        model.get_submodule(name).register_forward_pre_hook(
            lambda _m, args, name=name: captured.setdefault(name, tuple(args))
        )
        for name in names
    ]
    try:
        with torch.no_grad():
            model(*example)
    finally:
        for handle in handles:
            handle.remove()
    return captured


def _macs(run: Callable[[], object]) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        run()
    return counter.get_total_flops() // 2


def _chain(modules: list[nn.Module], inputs: tuple[torch.Tensor, ...]) -> Callable[[], object]:
    """A part run alone: its first module on the inputs it got, each next one on the output."""

    def run() -> object:
        output = modules[0](*inputs)
        for module in modules[1:]:
            output = module(output)
        return output

    return run


def profile_model(
    model: nn.Module,
    example: torch.Tensor | Inputs,
    parts: dict[str, tuple[str, ...]] | None = None,
    protocol: TimingProtocol = TimingProtocol(),
) -> ModelProfile:
    """Time and size each part of ``model``: a part is a chain of submodules (by name), each
    fed the previous one's output, the first what it receives inside a forward pass on
    ``example``. ``parts`` None: every top-level child on its own."""
    example = as_inputs(example)
    model = model.eval()
    if parts is None:
        parts = {name: (name,) for name, _ in model.named_children()}
    inputs = _captured_inputs(model, example, {chain[0] for chain in parts.values()})
    unused = [name for name, chain in parts.items() if chain[0] not in inputs]
    if unused:
        raise ValueError(f"part {unused[0]!r} does not run in a forward pass of the model")
    profiles = []
    for name, chain in parts.items():
        modules = [model.get_submodule(member) for member in chain]
        run = _chain(modules, inputs[chain[0]])
        profiles.append(
            PartProfile(
                name=name,
                timing=measure(run, protocol),
                parameters=sum(p.numel() for m in modules for p in m.parameters()),
                macs=_macs(run),
            )
        )
    return ModelProfile(parts=tuple(profiles), total=measure(lambda: model(*example), protocol))


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
