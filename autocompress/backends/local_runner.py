"""A device runner for this machine: times an exported artifact in its own process, as a
runtime on a device would, and prints one ``latency_ms: X`` line per timed run.

    python -m autocompress.backends.local_runner FILE --input-shape 1,3,64,112,112
        [--input-type float] [--warmup 5] [--runs 15] [--threads 1]

A model of several inputs takes their shapes and types joined by ``;`` (``--input-shape
"1,16;1,16" --input-type "int64;int64"``); inputs are zeros.

It serves as the reference ``latency.command`` (``{artifact}`` and the protocol's placeholders)
and shows what a runner on a real device has to print.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from autocompress.backends.artifacts import load_artifact
from autocompress.errors import UserError

DTYPES = {
    "float": torch.float32,
    "int64": torch.int64,
    "int32": torch.int32,
    "uint8": torch.uint8,
    "bool": torch.bool,
}


def _shapes(text: str) -> list[tuple[int, ...]]:
    return [tuple(int(part) for part in shape.split(",")) for shape in text.split(";")]


def _types(text: str) -> list[torch.dtype]:
    names = text.split(";")
    unknown = [name for name in names if name not in DTYPES]
    if unknown:
        raise argparse.ArgumentTypeError(f"{unknown[0]!r}; choose from {', '.join(DTYPES)}")
    return [DTYPES[name] for name in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autocompress.backends.local_runner")
    parser.add_argument("artifact")
    parser.add_argument("--input-shape", type=_shapes, required=True)
    parser.add_argument("--input-type", type=_types, default=None, help="default: float")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=0, help="0: torch's default")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        runner = load_artifact(args.artifact)
    except UserError as error:
        print(f"local_runner: {error}", file=sys.stderr)
        return 2
    types = args.input_type or [torch.float32] * len(args.input_shape)
    if len(types) != len(args.input_shape):
        print("local_runner: --input-type names one type per --input-shape", file=sys.stderr)
        return 2
    example = [
        torch.zeros(shape, dtype=dtype)
        for shape, dtype in zip(args.input_shape, types, strict=True)
    ]
    with torch.no_grad():
        for _ in range(args.warmup):
            runner(*example)
        for _ in range(args.runs):
            started = time.perf_counter()
            runner(*example)
            print(f"latency_ms: {(time.perf_counter() - started) * 1e3:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
