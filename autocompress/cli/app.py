"""The ``autocompress`` command: assembles the parser from the command modules, dispatches.

Each command module adds its subparser with a ``handler`` taking the parsed arguments. User
errors (:class:`UserError`) become one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

from autocompress.cli import apply, export, pareto, profile, repnet, search, sqnr
from autocompress.cli.output import library_output
from autocompress.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autocompress",
        description="Search how to compress a PyTorch model (RepNet, a digits classifier, or your "
        "own) for a latency budget.",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also print library warnings (deprecations, pruning notes), and each trial's",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # In the order --help lists them.
    profile.add_parser(commands)
    repnet.add_parsers(commands)
    apply.add_parser(commands)
    sqnr.add_parser(commands)
    search.add_parser(commands)
    pareto.add_parser(commands)
    export.add_parser(commands)
    return parser


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # `kill` stops as cleanly as Ctrl-C: training checkpoints, a search re-queues its trial.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with library_output(verbose=args.verbose):
            args.handler(args)
    except UserError as error:
        print(f"autocompress: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "autocompress: interrupted; finished work is saved (run again to resume)",
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:  # the reader went away (`autocompress pareto | head`): not an error
        # Python would report the failed flush of stdout at exit; send it nowhere instead.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0
