"""``autocompress export``: rebuild one trial's model from its study and write it out."""

from __future__ import annotations

import argparse
from pathlib import Path

from autocompress.cli.options import add_study_options


def add_parser(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser("export", help="rebuild a trial's model and write it out")
    add_study_options(export)
    export.add_argument(
        "--trial",
        required=True,
        help="trial number, or the Pareto point that is fastest, smallest or most-accurate",
    )
    export.add_argument("--out", type=Path, required=True, help="output directory")
    export.add_argument(
        "--overwrite", action="store_true", help="replace this trial's files if --out has them"
    )
    export.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> None:
    from autocompress.study.context import build_context
    from autocompress.study.export import (
        check_export_dir,
        export_trial,
        exportable_trial,
        pick_trial,
    )
    from autocompress.study.lifecycle import load_existing_study
    from autocompress.study.storage import stored_config
    from autocompress.study.study_files import study_config_from_dict

    study = load_existing_study(args.study or "default", args.storage, args.run_dir)
    config = study_config_from_dict(stored_config(study))
    if args.trial == "fastest":  # picked by timing the fastest few again: needs the model
        context = build_context(config, args.run_dir, study)
        number = pick_trial(study, args.trial, context)
        check_export_dir(study, number, args.out, args.overwrite, config.artifact)
    else:
        number = pick_trial(study, args.trial)
        exportable_trial(study, number)  # refuse early, before building anything
        check_export_dir(study, number, args.out, args.overwrite, config.artifact)
        context = build_context(config, args.run_dir, study)
    print(export_trial(study, number, context, args.out, args.overwrite))
