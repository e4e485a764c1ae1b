"""``autocompress pareto``: a study's feasible front as a table and plots, optionally retimed."""

from __future__ import annotations

import argparse
from pathlib import Path

from autocompress.cli.options import _positive_int, add_study_options
from autocompress.errors import UserError


def add_parser(commands: argparse._SubParsersAction) -> None:
    pareto = commands.add_parser("pareto", help="the feasible Pareto front: table and plots")
    add_study_options(pareto)
    pareto.add_argument("--plot", type=Path, help="PNG path (default: RUN_DIR/STUDY-pareto.png)")
    pareto.add_argument(
        "--retime",
        action="store_true",
        help="rebuild the front and time it again in turns with the baseline",
    )
    pareto.add_argument("--rounds", type=_positive_int, default=3, help="with --retime")
    pareto.add_argument(
        "--test",
        action="store_true",
        help="first score the front points not yet scored on the study's test set",
    )
    pareto.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> None:
    from autocompress.study.lifecycle import load_existing_study
    from autocompress.study.pareto import format_front, plot_front

    study = load_existing_study(args.study or "default", args.storage, args.run_dir)
    context = _context(study, args.run_dir) if args.test or args.retime else None
    if args.test:
        from autocompress.study.test_set import fill_test_scores

        if context.test_task() is None:
            raise UserError(f"study {study.study_name!r} has no test set (data.test_*)")
        fill_test_scores(study, context)
    print(format_front(study))
    plot = args.plot or args.run_dir / f"{study.study_name}-pareto.png"
    try:
        written = plot_front(study, plot)
    except OSError as error:
        raise UserError(f"cannot write the plot {plot}: {error.strerror} (see --plot)") from error
    for path in written:
        print(f"plot written to {path}")
    if args.retime:
        from autocompress.study.retime import format_retimed, retime_front

        print()
        print(format_retimed(retime_front(study, context, args.rounds), args.rounds))


def _context(study, run_dir: Path):
    """The study's search context, rebuilt from its stored definition."""
    from autocompress.study.context import build_context
    from autocompress.study.storage import stored_config
    from autocompress.study.study_files import study_config_from_dict

    return build_context(study_config_from_dict(stored_config(study)), run_dir, study)
