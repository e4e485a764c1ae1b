"""Calibration inputs for the commands that quantize a preset outside a study."""

from __future__ import annotations

import argparse

from autocompress.cli.options import _positive_int


def add_calibration_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calibration-clips", type=_positive_int, default=2)


def calibration_clips(model, count: int):
    """Random clips, said out loud: the user should know no real videos calibrated the ranges."""
    from autocompress.compression.calibration import random_clips

    print(f"calibration: {count} random clips in [-1, 1] (no videos given)")
    return random_clips(model, count)
