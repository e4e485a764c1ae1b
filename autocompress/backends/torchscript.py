"""Frozen TorchScript: the format of PyTorch's mobile runtime and of ``torch.jit.load``.

A deployment loads the file and then prepares it for its CPU: ``torch.jit.freeze`` inlines
submodules and turns weights into constants, ``torch.jit.optimize_for_inference`` folds batch
norms into convolutions and prepacks weights for MKLDNN (1.20x faster on the full RepNet than
the file run as loaded, benchmarks/formats.md). On graphs that are mostly int8 it does harm:
every float op between int8 ones converts to and from MKLDNN's layout (the case study's int8
setup on repnet-s: 12.8 ms frozen, 18.1 ms optimised), so it is applied only where float
convolutions outnumber quantized ops. The prepared module cannot be saved again, so the file
holds the scripted model and :meth:`TorchScript.load` prepares it, exactly as timed.

A model TorchScript cannot compile (Hugging Face models; ``*args``, generators, any Python it
does not know in ``forward``) is traced instead, non-strictly, so dict outputs (``ModelOutput``)
trace as dicts. A trace records the ops one input ran and loses Python control flow that
depends on values, so it is kept only where it reproduces the eager outputs on the example and
on one other input (the example negated, integer inputs reversed along their last dimension so
token ids stay ids); a branch both take alike is not caught. Else the format refuses the model
in one line.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.jit._recursive
from torch import nn

from autocompress.backends.formats import ARTIFACT_FORMATS
from autocompress.backends.fresh_process import run_in_fork
from autocompress.errors import UserError, first_line
from autocompress.inputs import Inputs, as_inputs, output_tensors

__all__ = ["TorchScript", "script"]


def _is_aten_graph(model: nn.Module) -> bool:
    """A ``torch.export`` graph (PT2E's int8 models): calls ATen operators directly, in a
    generated ``forward`` TorchScript cannot compile."""
    return isinstance(model, torch.fx.GraphModule) and any(
        isinstance(node.target, torch._ops.OpOverload) for node in model.graph.nodes
    )


@contextlib.contextmanager
def _builtins_only_callable() -> Iterator[None]:
    """TorchScript looks module attributes up in a table of builtin ops keyed by ``id()``,
    and the table keeps the ids of ops torch has since replaced (``torch._ops``'
    ``_refresh_packet``). A list attribute allocated where such an op lived (seen: a pruned
    Conv2d's ``_reversed_padding_repeated_twice``, in about one process in eight) is taken
    for that op and scripting fails with "builtin cannot be used as a value". An op is
    callable: other values are never looked up."""
    find_builtin = torch.jit._recursive._find_builtin
    torch.jit._recursive._find_builtin = lambda value: (
        find_builtin(value) if callable(value) else None
    )
    try:
        yield
    finally:
        torch.jit._recursive._find_builtin = find_builtin


def script(model: nn.Module) -> torch.jit.ScriptModule:
    """``torch.jit.script(model)``, safe from the stale builtin ids above."""
    with _builtins_only_callable():
        return torch.jit.script(model)


def _other_input(example: Inputs) -> Inputs:
    """An input unlike ``example`` that the model still accepts: floats negated, integer and
    boolean tensors (token ids, masks) reversed along their last dimension."""
    return tuple(x.neg() if x.is_floating_point() else x.flip(-1) for x in example)


def _same_outputs(expected: object, got: object) -> bool:
    want, have = output_tensors(expected), output_tensors(got)
    return len(want) == len(have) and all(
        a.shape == b.shape and torch.allclose(a.double(), b.double(), rtol=1e-4, atol=1e-5)
        for a, b in zip(want, have, strict=True)
    )


def _trace(model: nn.Module, example: Inputs, not_scripted: str) -> torch.jit.ScriptModule:
    """The non-strict trace of a model scripting refused (``not_scripted`` says why), if it
    computes what the model does (see the module notes)."""
    name = type(model).__name__
    try:
        with _builtins_only_callable():
            traced = torch.jit.trace(model, example, strict=False, check_trace=False)
    except Exception as error:  # tracing fails in as many ways as scripting
        raise UserError(
            f"torchscript cannot ship {name}: it neither scripts ({not_scripted}) nor traces "
            f"({first_line(error)})"
        ) from error
    for probe, what in ((example, "the example"), (_other_input(example), "another input")):
        try:
            expected = model(*probe)
        except Exception:  # the model refuses the made-up input: no comparison
            continue
        try:
            got = traced(*probe)
        except Exception:  # the trace cannot run where the model can: another computation
            got = None
        if not _same_outputs(expected, got):
            raise UserError(
                f"torchscript cannot ship {name}: it does not script ({not_scripted}) and its "
                f"trace computes other outputs than the model on {what} (control flow that "
                "depends on values?)"
            )
    return traced


@torch.no_grad()
def _script_and_save(model: nn.Module, example: Inputs) -> bytes:
    model = model.eval()
    if _is_aten_graph(model):
        # Tracing records the same ATen calls; the graph has no control flow to lose.
        with _builtins_only_callable():
            scripted = torch.jit.trace(model, example, strict=False, check_trace=False)
    else:
        try:
            scripted = script(model)
        except Exception as error:  # scripting fails as OSError, TypeError, ...
            scripted = _trace(model, example, first_line(error))
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    return buffer.getvalue()


class TorchScript:
    name = "torchscript"
    suffix = ".pt"
    # TorchScript's profiling executor specialises the graph over the first runs; times were
    # seen to settle after 6-8 of them.
    settle_runs = 8

    def serialize(self, model: nn.Module, example: torch.Tensor | Inputs) -> bytes:
        """The file's bytes: the same for the same model in any process (see fresh_process)."""
        return run_in_fork(_script_and_save, model, as_inputs(example))

    def load(self, data: bytes) -> torch.jit.ScriptModule:
        frozen = torch.jit.freeze(torch.jit.load(io.BytesIO(data)).eval())
        return torch.jit.optimize_for_inference(frozen) if _mostly_float(frozen) else frozen

    def recognizes(self, path: Path) -> bool:
        return path.suffix == self.suffix


def _mostly_float(frozen: torch.jit.ScriptModule) -> bool:
    kinds = [node.kind() for node in frozen.graph.nodes()]
    quantized = sum(kind.startswith("quantized::") for kind in kinds)
    return quantized < sum(kind in ("aten::conv2d", "aten::conv3d") for kind in kinds)


ARTIFACT_FORMATS.register(TorchScript.name, TorchScript())
