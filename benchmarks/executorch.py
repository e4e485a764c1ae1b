"""ExecuTorch (XNNPACK) latency of RepNet beside frozen TorchScript and AOTInductor.

ExecuTorch's XNNPACK backend only takes 1-D and 2-D convolutions and its portable kernels fail on
RepNet's 5-D temporal convolution, so every ``nn.Conv3d`` is first rewritten as the equal
``nn.Conv2d`` over the time-shifted frames stacked on channels (:func:`conv3d_as_conv2d`;
checked to give the same outputs). The TorchScript and AOTInductor artifacts are built from the
original model, as the project ships them. The program is lowered with ``torch.export`` ->
``to_edge_transform_and_lower`` (``XnnpackPartitioner``) -> ``to_executorch``, saved as a
``.pte`` file and run by ExecuTorch's Python runtime with its threadpool reset to 1 thread.

ExecuTorch lives in its own venv, beside the project's torch (not in ``.venv``)::

    python3 -m venv /tmp/etvenv
    /tmp/etvenv/bin/pip install torch==2.13.0  # the local CPU wheel, as the Makefile does
    /tmp/etvenv/bin/pip install executorch==1.5.1  # here: /tmp/et/executorch-1.5.1-*.whl
    /tmp/etvenv/bin/pip install optuna sqlalchemy tensorly torch-pruning scipy joblib pyyaml \
        av tqdm matplotlib  # autocompress's dependencies; the package itself via PYTHONPATH

and this table was made with::

    PYTHONPATH=. /tmp/etvenv/bin/python benchmarks/executorch.py --out benchmarks/executorch.md
"""

from __future__ import annotations

import argparse
import copy
import os
import shlex
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import torch
import torch.nn.functional as F
from report import machine_line, time_in_turns, weights_line
from torch import nn

from autocompress.backends import ARTIFACT_FORMATS
from autocompress.compression.calibration import example_input, random_clips
from autocompress.evaluators.size import MIB
from autocompress.models.repnet.recipe import apply_recipe
from autocompress.models.repnet.weights import load_model

SETUPS = (("baseline", ""), ("P", "P"), ("T", "T"), ("P->T", "PT"))
# The baseline made int8 by PT2E with ExecuTorch's XNNPACKQuantizer: everything, or all but the
# stem (whose zero pad before the max-pool XNNPACK refuses in int8: StaticConstantPad).
INT8 = {"Q (PT2E XNNPACK, all)": False, "Q (PT2E XNNPACK, stem float)": True}
FORMATS = ("TorchScript, prepared", "AOTInductor", "ExecuTorch XNNPACK")
REFERENCE = ("baseline", FORMATS[0])
NOTES = (
    "Notes. ExecuTorch sets its threads outside the program: the pybindings' "
    "`_unsafe_reset_threadpool(n)` (experimental; `_threadpool_get_thread_count()` reads it, "
    "2 by default here, one per core) sizes the pthreadpool XNNPACK runs on; "
    '`torch.set_num_threads` does not reach it. XNNPACK refuses Conv3d ("Only support 1D + '
    '2D Conv"), hence the rewrite; the BatchNorm3d after it, the 5-D max over space, the '
    "1x1 stride-2 max-pools of the shortcuts and the attention's mask logic stay on portable "
    "kernels. The fully int8 program lowers but fails to load: XNNPACK cannot build the "
    "int8 zero pad before the stem's max-pool. Leaving the stem float (the quantizer has no "
    "per-module opt-out, so every other submodule is opted in by name) loads and runs; its "
    "outputs are those of 2 random calibration clips, not a measure of accuracy. A 1-minute "
    "load above 2 on this 2-core machine means other jobs shared it: compare within a column "
    "and within this table only."
)
ATOL = 1e-3  # float32 outputs of the rewritten model against the original (exact in float64)


class Conv3dAsConv2d(nn.Module):
    """An ``nn.Conv3d`` (groups 1, zero padding) as one ``nn.Conv2d`` on N*T' frames whose
    channels are the kernel's time taps stacked: same input and output layout (N x C x T x H x W).
    """

    def __init__(self, conv: nn.Conv3d):
        super().__init__()
        if conv.groups != 1 or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ValueError(f"only groups=1, zero, numeric padding: {conv}")
        self.taps, self.stride = conv.kernel_size[0], conv.stride[0]
        self.pad, self.dilation = conv.padding[0], conv.dilation[0]
        out_channels, in_channels = conv.out_channels, conv.in_channels
        self.conv = nn.Conv2d(
            in_channels * self.taps,
            out_channels,
            conv.kernel_size[1:],
            stride=conv.stride[1:],
            padding=conv.padding[1:],
            dilation=conv.dilation[1:],
            bias=conv.bias is not None,
        )
        with torch.no_grad():  # O x C x kt x kh x kw -> O x (kt * C) x kh x kw, tap-major
            weight = conv.weight.transpose(1, 2).reshape(out_channels, -1, *conv.kernel_size[1:])
            self.conv.weight.copy_(weight)
            if conv.bias is not None:
                self.conv.bias.copy_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, frames, height, width = x.shape
        if self.pad:
            x = F.pad(x, (0, 0, 0, 0, self.pad, self.pad))
        out_frames = (
            frames + 2 * self.pad - self.dilation * (self.taps - 1) - 1
        ) // self.stride + 1
        span = self.stride * (out_frames - 1) + 1
        shifted = [
            x[:, :, k * self.dilation : k * self.dilation + span : self.stride]
            for k in range(self.taps)
        ]
        x = torch.cat(shifted, 1) if self.taps > 1 else shifted[0]
        x = x.transpose(1, 2).reshape(batch * out_frames, self.taps * channels, height, width)
        y = self.conv(x)
        return y.unflatten(0, (batch, out_frames)).transpose(1, 2)


def conv3d_as_conv2d(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every ``nn.Conv3d`` (e.g. ``temporal_conv.conv``, or each factor
    of it after tensorization) replaced by :class:`Conv3dAsConv2d`."""
    model = copy.deepcopy(model).eval()
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Conv3d):
                rewritten = Conv3dAsConv2d(child)
                check_exact(child, rewritten)
                setattr(parent, name, rewritten)
    return model


@torch.no_grad()
def check_exact(conv: nn.Conv3d, rewritten: Conv3dAsConv2d) -> None:
    """The rewrite computes the same sums: in float64 it matches to rounding (in float32 only
    the summation order differs, which the model's softmax can amplify to ~1e-4)."""
    frames = 2 * conv.dilation[0] * conv.kernel_size[0] + 5
    x = torch.randn(2, conv.in_channels, frames, 6, 7, dtype=torch.float64)
    expected = copy.deepcopy(conv).double()(x)
    difference = (copy.deepcopy(rewritten).double()(x) - expected).abs().max().item()
    if difference > 1e-9 * max(1.0, expected.abs().max().item()):
        raise AssertionError(f"Conv3d rewrite differs by {difference:.1e} in float64: {conv}")


def max_difference(expected, found) -> float:
    return max((a - b).abs().max().item() for a, b in zip(expected, found, strict=True))


def first_line(error: Exception) -> str:
    return f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0][:160]}"


def lower_to_executorch(program: torch.export.ExportedProgram) -> tuple[bytes, int]:
    """The ``.pte`` bytes of an exported program lowered to XNNPACK, and how many operators
    stay outside the delegate (run by ExecuTorch's portable kernels)."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
    graph = edge.exported_program().graph_module.graph
    outside = sum(
        1
        for node in graph.nodes
        if node.op == "call_function"
        and getattr(node.target, "__name__", "") not in ("getitem", "executorch_call_delegate")
    )
    return edge.to_executorch().buffer, outside


def executorch_runner(path: Path) -> Callable:
    """The program's ``forward`` as ExecuTorch's Python runtime loads it. A failure to load
    says only "error: 0x1" in Python: the runtime's own log line (on file descriptor 2) with
    the cause is added to the message."""
    from executorch.runtime import Runtime

    with tempfile.TemporaryFile(mode="w+") as log:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            method = Runtime.get().load_program(path).load_method("forward")
        except RuntimeError as error:
            os.dup2(saved, 2)
            log.seek(0)
            causes = [line for line in log.read().splitlines() if "Failed" in line]
            raise RuntimeError(f"{error} ({causes[0] if causes else 'no log'})") from error
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return lambda video: method.execute((video,))


@torch.no_grad()
def int8_program(
    model: nn.Module, calibration: torch.Tensor, float_stem: bool
) -> torch.export.ExportedProgram:
    """The rewritten model quantized by PT2E with ExecuTorch's XNNPACK quantizer (symmetric,
    per-channel weights, static activations), calibrated on ``calibration``; with
    ``float_stem`` every submodule but ``encoder.stem`` (the quantizer has no per-module
    opt-out, so the others are opted in by name)."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    example = calibration[:1]
    captured = torch.export.export(model, (example,)).module()
    config = get_symmetric_quantization_config(is_per_channel=True)
    quantizer = XNNPACKQuantizer()
    if float_stem:
        names = [f"encoder.{name}" for name, _ in model.encoder.named_children() if name != "stem"]
        names += [name for name, _ in model.named_children() if name != "encoder"]
        for name in names:
            quantizer.set_module_name(name, config)
    else:
        quantizer.set_global(config)
    prepared = prepare_pt2e(captured, quantizer)
    for clip in calibration:
        prepared(clip[None])
    return torch.export.export(convert_pt2e(prepared), (example,))


def build(
    label: str, model: nn.Module, example: torch.Tensor, calibration: torch.Tensor, args
) -> tuple[dict, list[str]]:
    """Format -> (runner, size in bytes) or a failure line, and notes on the ExecuTorch build."""
    cells: dict[str, tuple[Callable, int] | str] = {}
    notes = []
    with torch.no_grad():
        expected = model(example)
    if label not in INT8:
        for name, key in zip(FORMATS[:2], ("torchscript", "aoti"), strict=True):
            if key == "aoti" and not args.aoti:
                continue
            fmt = ARTIFACT_FORMATS[key]
            try:
                data = fmt.serialize(model, example)
                cells[name] = (fmt.load(data), len(data))
            except Exception as error:
                cells[name] = f"fails: {first_line(error)}"
    started = time.perf_counter()
    try:
        rewritten = conv3d_as_conv2d(model)
        with torch.no_grad():
            difference = max_difference(expected, rewritten(example))
        if difference > ATOL:
            raise AssertionError(f"Conv3d rewrite differs by {difference:.1e} > {ATOL}")
        notes.append(f"rewrite max abs diff {difference:.1e}")
        if label in INT8:
            program = int8_program(rewritten, calibration, INT8[label])
        else:
            program = torch.export.export(rewritten, (example,))
        data, outside = lower_to_executorch(program)
        slug = "".join(char if char.isalnum() else "-" for char in label)
        path = args.pte_dir / f"{args.preset}-{slug}.pte"
        path.write_bytes(data)
        runner = executorch_runner(path)
        difference = max_difference(expected, runner(example))
        notes += [
            f"ExecuTorch max abs diff {difference:.1e}",
            f"{outside} ops outside XNNPACK",
            f"lowered in {time.perf_counter() - started:.0f} s",
        ]
        cells[FORMATS[2]] = (runner, len(data))
    except Exception as error:
        cells[FORMATS[2]] = f"fails: {first_line(error)}"
    return cells, notes


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="repnet-s")
    parser.add_argument("--warmup", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=5)
    parser.add_argument("--no-aoti", dest="aoti", action="store_false", help="skip AOTInductor")
    parser.add_argument("--no-int8", dest="int8", action="store_false", help="skip the int8 row")
    parser.add_argument("--pte-dir", type=Path, default=Path("/tmp/autocompress-executorch"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    # This file is executorch.py: on sys.path its folder would shadow the executorch package
    # (a namespace package, which loses to a module anywhere on the path). report.py is in.
    here = Path(__file__).resolve().parent
    sys.path[:] = [path for path in sys.path if Path(path or ".").resolve() != here]
    warnings.filterwarnings("ignore")  # deprecation notices of TorchScript and torch.ao
    torch.set_num_threads(1)
    from executorch.extension.pybindings import portable_lib

    portable_lib._unsafe_reset_threadpool(1)  # ExecuTorch's own pool (XNNPACK); default: cores
    threads = portable_lib._threadpool_get_thread_count()
    args.pte_dir.mkdir(parents=True, exist_ok=True)

    model, _ = load_model(args.preset)
    model.eval()
    calibration = random_clips(model, 2)
    example = example_input(model, calibration)
    setups = [*SETUPS, *((label, "") for label in INT8)] if args.int8 else list(SETUPS)
    cells: dict[tuple[str, str], tuple[Callable, int] | str] = {}
    notes: dict[str, list[str]] = {}
    for label, order in setups:
        compressed, _, _ = apply_recipe(model, order, calibration)
        built, notes[label] = build(label, compressed, example, calibration, args)
        cells |= {(label, name): found for name, found in built.items()}
        print(f"{label}: built; {', '.join(notes[label])}", file=sys.stderr)
    timed = {key: value[0] for key, value in cells.items() if not isinstance(value, str)}
    times = time_in_turns(timed, example, args.warmup, args.rounds, args.per_round)
    base = times[REFERENCE][0]

    lines = [
        "# ExecuTorch (XNNPACK) beside frozen TorchScript and AOTInductor",
        "",
        f"Command: `{shlex.join(['PYTHONPATH=.', '/tmp/etvenv/bin/python', *sys.argv])}`",
        "",
        f"Machine: {machine_line()}; executorch {version('executorch')}, torchao "
        f"{version('torchao')}.",
        "",
        f"Model: `{args.preset}` (weights: {weights_line(args.preset, None)}); setups: "
        "`CaseStudyRecipe` in the given order, calibrated on 2 random clips "
        "(`random_clips(model, 2)`); input: the first of them (batch 1).",
        "",
        f"Protocol: 1 thread everywhere (`torch.set_num_threads(1)`; ExecuTorch's threadpool "
        f"reset to {threads} by `portable_lib._unsafe_reset_threadpool(1)`), {args.warmup} "
        f"warm-ups each, then {args.rounds} rounds of {args.per_round} runs, every runner in "
        "turn. Latency ms: median (IQR), then its ratio to the prepared TorchScript baseline "
        f"({base:.1f} ms; above 1 is faster), then the file's size in MiB. TorchScript and "
        "AOTInductor are `ARTIFACT_FORMATS` artifacts of the model as is; ExecuTorch runs the "
        "`.pte` of the model with each Conv3d rewritten as a Conv2d (XNNPACK takes no Conv3d). "
        "Notes: the largest difference of any output from the original float model's (the "
        "rewrite is exact in float64; float32 rounding, amplified by the TSM softmax, is what "
        "remains), operators left to ExecuTorch's portable kernels, and the time to lower.",
        "",
        "| setup | " + " | ".join(f"{name} ms" for name in FORMATS) + " | ExecuTorch notes |",
        "|---|" + "---:|" * len(FORMATS) + "---|",
    ]
    for label, _ in setups:
        row = []
        for name in FORMATS:
            found = cells.get((label, name), "-")
            if isinstance(found, str):
                row.append(found)
                continue
            median, spread = times[(label, name)]
            row.append(f"{median:.1f} ({spread:.1f}), x{base / median:.2f}, {found[1] / MIB:.2f}")
        lines.append(f"| {label} | " + " | ".join(row) + f" | {'; '.join(notes[label])} |")
    text = "\n".join([*lines, "", NOTES]) + "\n"
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
