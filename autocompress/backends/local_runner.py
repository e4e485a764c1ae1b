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
from autocompress.inputs import input_spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autocompress.backends.local_runner")
    parser.add_argument("artifact")
    parser.add_argument("--input-shape", required=True)
    parser.add_argument("--input-type", default=None, help="default: float")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=0, help="0: torch's default")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        spec = input_spec(args.input_shape, args.input_type)
        runner = load_artifact(args.artifact)
    except UserError as error:
        print(f"local_runner: {error}", file=sys.stderr)
        return 2
    example = [torch.zeros(shape, dtype=dtype) for shape, dtype in spec]
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
