"""The commands that exist for RepNet only: training it, synthetic videos, counting accuracy."""

from __future__ import annotations

import argparse

from autocompress.cli.repnet import data, evaluate, train


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """In this order, the order ``autocompress --help`` lists them in."""
    train.add_parser(commands)
    data.add_parser(commands)
    evaluate.add_parser(commands)
