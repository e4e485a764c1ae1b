"""The teacher's outputs on recovery's batches, kept for the next recovery from the same teacher.

Every recovery of a search distils the same teacher (the uncompressed model) on the same
batches: the stream is fixed by the distillation, the step's data, batch size and seed. The
teacher's forward is about a quarter of a recovery step (repnet-s on two threads: 0.16 s of
0.6), so the second and later recoveries of a search read the outputs the first computed. They
are the values a new computation gives (the same model, batches, threads and device), so a
recovery's weights do not depend on whether they came from here.

One stream is kept, and only while its teacher lives; a teacher changed in place (its tensors'
version counters move) starts a new one.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

__all__ = ["HELD", "TeacherOutputs", "TeacherOutputsOf"]

HELD = -1  # the number of the held batch, whose loss is logged before and after recovery
# (batch number, compute the outputs) -> the outputs
TeacherOutputsOf = Callable[[int, Callable[[], Any]], Any]

# Beyond this the outputs are computed every time (the full RepNet's, 300 steps: about 360 MB).
MAX_CACHED_BYTES = 512 * 2**20


def _versions(module: nn.Module) -> tuple[tuple[int, int], ...]:
    """Where each of the module's tensors lives and how often it was changed in place."""
    return tuple((t.data_ptr(), t._version) for t in (*module.parameters(), *module.buffers()))


def _nbytes(outputs: Any) -> int:
    items = outputs if isinstance(outputs, tuple | list) else (outputs,)
    return sum(t.numel() * t.element_size() for t in items if torch.is_tensor(t))


@dataclass
class _Stream:
    """One stream's outputs by batch index, up to ``limit_bytes`` in all."""

    teacher: weakref.ref
    versions: tuple[tuple[int, int], ...]
    distillation: object
    rest: Hashable
    limit_bytes: int
    outputs: dict[int, Any] = field(default_factory=dict)
    bytes: int = 0

    def holds(self, teacher: nn.Module, distillation: object, rest: Hashable) -> bool:
        return (
            self.teacher() is teacher
            and self.distillation is distillation
            and self.rest == rest
            and self.versions == _versions(teacher)
        )

    def __call__(self, index: int, compute: Callable[[], Any]) -> Any:
        if index in self.outputs:
            return self.outputs[index]
        computed = compute()
        size = _nbytes(computed)
        if self.bytes + size <= self.limit_bytes:
            self.outputs[index] = computed
            self.bytes += size
        return computed


class TeacherOutputs:
    """The outputs of one stream: a teacher, a distillation (compared by identity: its batches
    may depend on its own data) and a hashable description of the rest (step parameters,
    device)."""

    def __init__(self, limit_bytes: int = MAX_CACHED_BYTES) -> None:
        self.limit_bytes = limit_bytes
        self._current: _Stream | None = None

    def stream(self, teacher: nn.Module, distillation: object, rest: Hashable) -> TeacherOutputsOf:
        """``outputs(index, compute)``: the stored outputs of batch ``index`` of this stream,
        else ``compute()``'s, stored while they fit."""
        if self._current is None or not self._current.holds(teacher, distillation, rest):
            self._current = _Stream(
                weakref.ref(teacher, self._forget),
                _versions(teacher),
                distillation,
                rest,
                self.limit_bytes,
            )
        return self._current

    def _forget(self, teacher_ref: weakref.ref) -> None:
        """The teacher is gone: so is its stream, unless another replaced it."""
        if self._current is not None and self._current.teacher is teacher_ref:
            self._current = None
