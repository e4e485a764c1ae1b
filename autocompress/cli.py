"""The ``autocompress`` command: parses arguments, calls the library, prints.

Each subcommand is a ``_cmd_*`` function taking the parsed arguments. User errors
(:class:`UserError`) become one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from autocompress.errors import UserError

DEFAULT_PRESET = "repnet-s"


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


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset", default=DEFAULT_PRESET, help=f"model preset (default: {DEFAULT_PRESET})"
    )
    parser.add_argument(
        "--weights", type=Path, help="weights file (default: the preset's shipped weights)"
    )


def _cmd_profile(args: argparse.Namespace) -> None:
    from autocompress.analysis.profile import plot_profile, profile_repnet
    from autocompress.evaluators.latency import TimingProtocol
    from autocompress.models.weights import load_model

    model, source = load_model(args.preset, args.weights)
    protocol = TimingProtocol(warmup=args.warmup, runs=args.runs, threads=args.threads)
    profile = profile_repnet(model, batch_size=args.batch_size, protocol=protocol)
    shape = "x".join(str(d) for d in (args.batch_size, *model.config.input_shape))
    threads = args.threads or "default"
    print(f"preset {args.preset} ({source}), input {shape}, threads {threads}")
    print(f"{protocol.warmup} warm-up + {protocol.runs} timed runs per part; spread = IQR\n")
    header = f"{'part':<18}{'median ms':>11}{'spread':>9}{'latency':>9}"
    print(header + f"{'params':>12}{'weights':>9}{'GMACs':>9}")
    for part in profile.parts:
        print(
            f"{part.name:<18}{part.timing.median_ms:>11.2f}{part.timing.spread_ms:>9.2f}"
            f"{profile.latency_share(part):>9.1%}{part.parameters:>12,}"
            f"{profile.parameter_share(part):>9.1%}{part.macs / 1e9:>9.3f}"
        )
    total_params = sum(p.parameters for p in profile.parts)
    print(
        f"{'whole model':<18}{profile.total.median_ms:>11.2f}{profile.total.spread_ms:>9.2f}"
        f"{'':>9}{total_params:>12,}{'':>9}{sum(p.macs for p in profile.parts) / 1e9:>9.3f}"
    )
    if args.plot:
        plot_profile(profile, args.plot, f"{args.preset}: share of latency and weights")
        print(f"\nplot written to {args.plot}")


def _cmd_train(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from autocompress.training.trainer import TrainingConfig, train

    config = TrainingConfig(
        preset=args.preset,
        steps=args.steps,
        batch_size=args.batch_size,
        seed=args.seed,
        threads=args.threads,
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autocompress",
        description="Search how to compress a PyTorch model (RepNet) for a latency budget.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    profile = commands.add_parser(
        "profile", help="where the latency and the weights are, per submodule"
    )
    _add_model_options(profile)
    profile.add_argument("--batch-size", type=_positive_int, default=1)
    profile.add_argument("--threads", type=_positive_int, help="torch intra-op threads")
    profile.add_argument("--warmup", type=_non_negative_int, default=10)
    profile.add_argument("--runs", type=_positive_int, default=32)
    profile.add_argument("--plot", type=Path, metavar="FILE.png", help="draw the shares")
    profile.set_defaults(handler=_cmd_profile)

    train = commands.add_parser(
        "train", help="train a RepNet from scratch on synthetic repetitions (resumable)"
    )
    train.add_argument("--preset", default=DEFAULT_PRESET)
    train.add_argument("--out", type=Path, required=True, help="final weights file")
    train.add_argument("--steps", type=_positive_int, default=3000)
    train.add_argument("--minutes", type=float, help="stop after this wall time (resumable)")
    train.add_argument("--batch-size", type=_positive_int, default=8)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--threads", type=_positive_int, help="torch intra-op threads")
    train.set_defaults(handler=_cmd_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except UserError as error:
        print(f"autocompress: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("autocompress: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
