"""``autocompress data synth``: synthetic repetition videos in the QUVA layout."""

from __future__ import annotations

import argparse
from pathlib import Path

from autocompress.cli.options import _non_negative_int, _positive_int
from autocompress.errors import UserError


def add_parser(commands: argparse._SubParsersAction) -> None:
    data = commands.add_parser("data", help="repetition video sets")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    synth = data_commands.add_parser(
        "synth", help="write synthetic repetition videos + annotations in the QUVA layout"
    )
    synth.add_argument("--out", type=Path, required=True, help="directory to write")
    synth.add_argument("--videos", type=_positive_int, default=20)
    synth.add_argument("--seed", type=_non_negative_int, default=0)
    synth.add_argument("--size", type=_frame_size, metavar="WxH", help="frame size (160x120)")
    synth.add_argument("--fps", type=_positive_int, help="frame rate (25)")
    synth.add_argument("--overwrite", action="store_true", help="replace existing videos in --out")
    synth.set_defaults(handler=_run_synth)


def _frame_size(text: str) -> tuple[int, int]:
    """``WxH`` or one number for a square."""
    width, _, height = text.lower().partition("x")
    try:
        return int(width), int(height or width)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT or SIZE, got {text!r}") from None


def _run_synth(args: argparse.Namespace) -> None:
    from autocompress.data.synthetic import SynthStyle, generate_dataset

    looks = {"size": args.size, "fps": args.fps}
    try:
        style = SynthStyle(**{key: value for key, value in looks.items() if value is not None})
    except ValueError as error:
        raise UserError(str(error)) from error
    videos = generate_dataset(
        args.out, args.videos, seed=args.seed, style=style, overwrite=args.overwrite, progress=True
    )
    counts = [video.count for video in videos]
    frames = [video.frames for video in videos]
    print(
        f"wrote {len(videos)} videos ({style.size[0]}x{style.size[1]}, {style.fps} fps, "
        f"{min(frames)}-{max(frames)} frames, {min(counts)}-{max(counts)} repetitions) "
        f"to {args.out}/videos and {args.out}/annotations"
    )
