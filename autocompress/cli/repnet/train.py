"""``autocompress train``: train a RepNet on synthetic repetitions, resumable."""

from __future__ import annotations

import argparse
from pathlib import Path

from autocompress.cli.options import DEFAULT_PRESET, _positive_float, _positive_int, _unit_float


def add_parser(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train", help="train a RepNet from scratch on synthetic repetitions (resumable)"
    )
    train.add_argument("--preset", default=DEFAULT_PRESET)
    train.add_argument("--out", type=Path, required=True, help="final weights file")
    train.add_argument("--steps", type=_positive_int, default=3000)
    train.add_argument("--minutes", type=float, help="stop after this wall time (resumable)")
    train.add_argument("--batch-size", type=_positive_int, default=8)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--init", type=Path, help="start from these weights (fine-tune)")
    train.add_argument("--learning-rate", type=_positive_float, default=1e-3)
    train.add_argument(
        "--curriculum-start",
        type=_unit_float,
        default=0.1,
        help="clip difficulty at step 0, rising to 1 (1: no curriculum, e.g. with --init)",
    )
    train.add_argument("--threads", type=_positive_int, help="torch intra-op threads")
    train.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from autocompress.models.repnet.clips import CurriculumConfig
    from autocompress.models.repnet.trainer import TrainingConfig, train

    config = TrainingConfig(
        preset=args.preset,
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
        init=str(args.init) if args.init else None,
        threads=args.threads,
        curriculum=CurriculumConfig(start=args.curriculum_start),
    )
    with tqdm(total=config.steps, desc="training", unit="step") as bar:

        def show(stats):
            bar.n = stats.step
            bar.set_postfix(loss=f"{stats.loss:.3f}", period_acc=f"{stats.period_accuracy:.2f}")

        done = train(config, args.out, minutes=args.minutes, on_step=show)
    if done is None:
        print(f"time limit reached; run the same command again to resume from {args.out}.ckpt")
    else:
        print(f"weights written to {done}")
