"""The names each technique may use at each point of a pipeline, followed as the steps would
rename (factorise) or remove (drop) layers: how a pipeline is refused before any layer is
touched, with the step and the name that would fail. Each technique's ``check`` says how its
step changes them, through the two operations here."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from torch import nn

from autocompress.compression.layers import decomposable_layers, quantizable_layers
from autocompress.compression.steps import PipelineError
from autocompress.compression.structure import prunable_groups

__all__ = ["Names"]


class Names:
    """What the model offers each technique now; each technique's ``check`` updates it."""

    def __init__(self, model: nn.Module):
        self._model = model
        self.groups = set(prunable_groups(model))
        self.decomposable = set(decomposable_layers(model))
        self.quantizable = set(quantizable_layers(model))
        self._tracked: dict[str, set[str]] = {}  # what -> names a technique tracks itself
        modules = dict(model.named_modules())
        self.modules = {name: modules[name] for name in self.quantizable}
        self.factorised: dict[str, list[str]] = {}
        self.dropped: set[str] = set()

    def known(self, index: int, names: Iterable[str], known: set[str], what: str) -> None:
        """Refuse ``names`` that are not in ``known`` at step ``index``, saying why."""
        unknown = [n for n in names if n not in known]
        for name in unknown:
            if name in self.factorised:
                raise PipelineError(
                    f"step {index}: {name} was factorised by an earlier tensorize step; "
                    f"address its factors {', '.join(self.factorised[name])}"
                )
            block = next((b for b in self.dropped if name.startswith(b + ".")), None)
            if block is not None:
                raise PipelineError(f"step {index}: {name} is in block {block}, dropped earlier")
        if unknown:
            shown = ", ".join(sorted(known)[:12]) + (" ..." if len(known) > 12 else "")
            raise PipelineError(
                f"step {index}: unknown {what}(s) {', '.join(unknown)} at that point of the "
                f"pipeline; known: {shown}"
            )

    def factorise(self, name: str, factors: list[str], decomposable: list[str]) -> None:
        """``name`` becomes ``factors``, each a layer of the original's type, of which
        ``decomposable`` may be factorised again."""
        module = self.modules.pop(name)
        self.factorised[name] = factors
        self.decomposable.discard(name)
        self.quantizable.discard(name)
        if name in self.groups:  # per-layer groups (models other than RepNet) follow the layer
            self.groups.discard(name)
            self.groups.update(factors)
        for factor in factors:
            self.modules[factor] = module
            self.quantizable.add(factor)
        self.decomposable.update(decomposable)

    def tracked(self, what: str, offered: Callable[[nn.Module], Iterable[str]]) -> set[str]:
        """The names of ``what`` (a technique's own kind of name, e.g. removable blocks): what
        ``offered`` finds in the model, less what earlier steps dropped; kept through drops."""
        if what not in self._tracked:
            self._tracked[what] = {n for n in offered(self._model) if not self._gone(n)}
        return self._tracked[what]

    def _gone(self, name: str) -> bool:
        return any(name == block or name.startswith(block + ".") for block in self.dropped)

    def drop(self, block: str) -> None:
        """``block`` and every name inside it are gone."""
        self.dropped.add(block)
        for names in (self.groups, self.decomposable, self.quantizable, *self._tracked.values()):
            names.difference_update({n for n in names if self._gone(n)})
        self.modules = {n: m for n, m in self.modules.items() if not self._gone(n)}
