"""``autocompress sqnr``: which layers lose the most when the whole model is int8."""

from __future__ import annotations

import argparse

from autocompress.cli.calibration import add_calibration_option, calibration_clips
from autocompress.cli.options import adapter, add_model_options


def add_parser(commands: argparse._SubParsersAction) -> None:
    sqnr = commands.add_parser(
        "sqnr", help="per-layer SQNR of a fully int8 model vs float, highest first"
    )
    add_model_options(sqnr)
    add_calibration_option(sqnr)
    sqnr.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> None:
    from autocompress.analysis.sqnr import layer_sqnr

    model, source = adapter(args).load()
    print(f"preset {args.preset} ({source}): every quantizable layer static int8 (FX, x86)")
    results = layer_sqnr(model, calibration_clips(model, args.calibration_clips))
    width = max(len(r.name) for r in results)
    print(f"\n{'layer':<{width}}  {'SQNR dB':>8}  int8 module")
    for result in results:
        print(f"{result.name:<{width}}  {result.sqnr_db:>8.1f}  {result.quantized_type}")
