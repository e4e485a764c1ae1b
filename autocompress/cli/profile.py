"""``autocompress profile``: where a model's latency and weights are, per submodule."""

from __future__ import annotations

import argparse
from pathlib import Path

from autocompress.cli.options import _non_negative_int, _positive_int, adapter, add_model_options


def add_parser(commands: argparse._SubParsersAction) -> None:
    profile = commands.add_parser(
        "profile", help="where the latency and the weights are, per submodule"
    )
    add_model_options(profile)
    profile.add_argument("--batch-size", type=_positive_int, default=1)
    profile.add_argument("--threads", type=_positive_int, help="torch intra-op threads")
    profile.add_argument("--warmup", type=_non_negative_int, default=10)
    profile.add_argument("--runs", type=_positive_int, default=32)
    profile.add_argument("--plot", type=Path, metavar="FILE.png", help="draw the shares")
    profile.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> None:
    from autocompress.analysis.profile import plot_profile, profile_model
    from autocompress.inputs import as_inputs
    from autocompress.spaces.catalog import LayerCatalog
    from autocompress.spaces.config import SpaceConfig
    from autocompress.spaces.dry_run import dry_run, summary
    from autocompress.timing import TimingProtocol

    model_adapter = adapter(args)
    model, source = model_adapter.load()
    protocol = TimingProtocol(warmup=args.warmup, runs=args.runs, threads=args.threads)
    example = as_inputs(model_adapter.example_inputs(args.batch_size))
    profile = profile_model(model, example, model_adapter.profile_parts(), protocol)
    shape = ", ".join("x".join(str(d) for d in item.shape) for item in example)
    threads = args.threads or "default"
    print(f"preset {args.preset} ({source}), input {shape}, threads {threads}")
    print(f"{protocol.warmup} warm-up + {protocol.runs} timed runs per part; spread = IQR\n")
    print(profile)
    catalog = LayerCatalog.of(model, SpaceConfig(), {}, calibration=example)
    left_out = dry_run(model, catalog, example, SpaceConfig())
    print("\n" + (summary(left_out) if left_out else "every group and layer takes its step"))
    if args.plot:
        plot_profile(profile, args.plot, f"{args.preset}: share of latency and weights")
        print(f"\nplot written to {args.plot}")
