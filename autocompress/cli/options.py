"""Argument types and the option groups several commands share, so they read alike."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_PRESET = "repnet-s"

# The types' names are part of the output, underscore included: argparse prints them when a
# value is not a number ("invalid _positive_int value: 'x'").


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _unit_float(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _error_limits(text: str) -> dict[str, float | str]:
    """``error=0.01`` or several, comma-separated: task error -> its largest increase, a
    number or a share of the uncompressed model's error (``error=10%``)."""
    limits: dict[str, float | str] = {}
    for part in text.split(","):
        name, sign, value = part.partition("=")
        value = value.strip()
        try:
            number = float(value.removesuffix("%"))
        except ValueError:
            number = -1.0
        if not sign or not name.strip() or number < 0:
            raise argparse.ArgumentTypeError(
                f"{part!r}: expected ERROR=INCREASE, e.g. error=0.01 or error=10% (>= 0)"
            )
        limits[name.strip()] = value if value.endswith("%") else number
    return limits


def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset", default=DEFAULT_PRESET, help=f"model preset (default: {DEFAULT_PRESET})"
    )
    parser.add_argument(
        "--weights", type=Path, help="weights file (default: the preset's shipped weights)"
    )


def adapter(args: argparse.Namespace):
    """The adapter of ``--preset`` with ``--weights``, as a study would set it up."""
    from autocompress.models.registry import ModelSettings, adapter_for

    weights = str(args.weights) if args.weights else None
    return adapter_for(ModelSettings(preset=args.preset, run_dir=Path("runs"), weights=weights))


def add_study_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--study", help="study name (default: the study file's, or default)")
    parser.add_argument(
        "--storage",
        help="Optuna storage URL, or journal:PATH (default: SQLite under --run-dir)",
    )
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=Path("runs"),
        help="where studies, videos and plots live (default: ./runs)",
    )
