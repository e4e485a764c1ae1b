"""``autocompress evaluate``: count repetitions in a QUVA-layout set and report MAE and OBO,
with a preset's weights or an exported artifact."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from autocompress.cli.options import _positive_int, add_model_options
from autocompress.errors import UserError, first_line


def add_parser(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser(
        "evaluate", help="count repetitions in a QUVA-layout set; report MAE and OBO"
    )
    evaluate.add_argument("--data", type=Path, required=True, help="videos/ + annotations/ dir")
    add_model_options(evaluate)
    evaluate.add_argument(
        "--model",
        type=Path,
        metavar="FILE",
        help="count with an exported artifact (.pt, .pt2) instead, as autocompress export wrote it",
    )
    evaluate.add_argument("--limit", type=_positive_int, help="only the first K videos")
    evaluate.add_argument("--seed", type=int, help="with --limit: a fixed random K instead")
    evaluate.add_argument("--json", action="store_true", help="print a JSON object instead")
    evaluate.add_argument(
        "--official-counting",
        action="store_true",
        help="the official demo's stride choice and argmax periods (to compare with papers)",
    )
    evaluate.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> None:
    import dataclasses

    from autocompress.data.quva import QuvaDataset, Subset
    from autocompress.models.repnet.counting import CountingConfig
    from autocompress.models.repnet.network import PRESETS
    from autocompress.models.repnet.quva_accuracy import evaluate_counts
    from autocompress.models.repnet.weights import load_model

    if args.seed is not None and args.limit is None:
        raise UserError("--seed picks a random subset and needs --limit")
    if args.model is not None and args.weights is not None:
        raise UserError("--model is a whole exported model: give it or --weights, not both")
    if args.model is not None:
        if args.preset not in PRESETS:
            raise UserError(f"unknown preset {args.preset!r}; choose one of: {', '.join(PRESETS)}")
        # The preset says what input the artifact takes: a file does not tell its frame size.
        config = PRESETS[args.preset]
        model, batch_size = _artifact_counter(args.model, config)
        source = str(args.model)
    else:
        model, source = load_model(args.preset, args.weights)
        config, batch_size = model.config, None
    size = config.image_size
    # Every video is decoded (and cached) up front, so all of the folder's problems are
    # reported together and a corrupt video is never silently left out of the scores.
    dataset = QuvaDataset(args.data, verify=size, progress=True)
    subset = Subset(args.limit, args.seed) if args.limit else None
    procedure = "official" if args.official_counting else "default"
    counting = CountingConfig.named(procedure)
    if batch_size is not None:
        counting = dataclasses.replace(counting, batch_size=min(batch_size, counting.batch_size))
    report = evaluate_counts(model, dataset, subset, counting, image_size=size)
    if args.json:
        _print_json(args, source=source, procedure=procedure, report=report)
    else:
        _print_table(args, source=source, procedure=procedure, size=size, report=report)


def _print_json(args: argparse.Namespace, *, source: str, procedure: str, report) -> None:
    import json

    fields = {"preset": args.preset, "weights": source, "counting": procedure}
    print(json.dumps({**fields, **report.to_dict()}, indent=2))


def _print_table(
    args: argparse.Namespace, *, source: str, procedure: str, size: int, report
) -> None:
    print(f"preset {args.preset} ({source}), {size}x{size} frames, data {args.data}")
    print(f"counting: {procedure}\n")
    width = max(len("video"), *(len(v.name) for v in report.videos))
    print(f"{'video':<{width}}{'true':>7}{'pred':>7}{'error':>8}")
    for video in report.videos:
        error = video.pred - video.true
        print(f"{video.name:<{width}}{video.true:>7}{video.pred:>7}{error:>+8}")
    print(f"\nMAE {report.mae:.3f}   OBO {report.obo:.3f}   ({report.n_videos} videos)")


def _artifact_counter(path: Path, config) -> tuple[Callable, int]:
    """An exported file, loaded as the evaluator timed it, and the batch size it takes: a
    compiled or exported program may be fixed to the batch of one it was timed at. Checked on
    clips of the preset's shape, so a wrong file or preset is one line, not a failure
    mid-count."""
    import torch

    from autocompress.backends import load_artifact

    model = load_artifact(path)
    shape = (3, config.num_frames, config.image_size, config.image_size)
    failure = None
    for batch in (2, 1):
        try:
            with torch.no_grad():
                outputs = model(torch.zeros(batch, *shape))
        except Exception as error:
            failure = failure or first_line(error)
            continue
        if not isinstance(outputs, tuple | list) or len(outputs) < 2:
            raise UserError(f"{path} is not a repetition counter: it returns no period logits")
        return model, batch
    raise UserError(f"{path} does not take clips of {shape} (--preset sets the shape): {failure}")
