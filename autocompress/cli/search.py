"""``autocompress search``: start or resume a study; the flags override its configuration."""

from __future__ import annotations

import argparse
from pathlib import Path

from autocompress.cli.options import _positive_int, add_study_options


def add_parser(commands: argparse._SubParsersAction) -> None:
    search = commands.add_parser("search", help="search compression pipelines (resumes a study)")
    add_study_options(search)
    search.add_argument("--config", type=Path, help="study YAML (default: the study called STUDY)")
    search.add_argument("--trials", type=_positive_int, help="the study's total trial count")
    search.add_argument(
        "--budget-ms", type=float, help="latency budget (trials over it are infeasible)"
    )
    search.add_argument(
        "--accuracy-device",
        metavar="DEVICE",
        help="count videos and train recovery there: cpu (default) or cuda[:N]; latency stays "
        "where the artifact runs",
    )
    search.add_argument(
        "--max-mae-increase",
        type=float,
        help="also infeasible: MAE more than this above the uncompressed model's",
    )
    search.add_argument("--preset", help="repnet-s (default), repnet or digits")
    search.add_argument(
        "--model",
        metavar="MODULE:FACTORY",
        help="your own model instead of a preset: a factory returning (model, example_inputs) "
        "or an adapter",
    )
    search.add_argument(
        "--task",
        metavar="MODULE:OBJECT",
        help="with --model: what scores it (a Task, or a function model -> error(s))",
    )
    search.add_argument("--weights", type=Path)
    search.add_argument("--data", type=Path, help="QUVA-layout evaluation videos")
    search.add_argument("--sampler", help="tpe, nsga2, gp or random")
    search.add_argument("--seed", type=int)
    search.add_argument(
        "--objectives", help="comma-separated: latency, size and the task's errors (mae, obo)"
    )
    search.add_argument("--threads", type=_positive_int, help="threads for latency timing")
    search.add_argument(
        "--subset", type=_positive_int, help="score only the first N items (videos, images)"
    )
    search.add_argument("--no-progress", action="store_true")
    search.add_argument(
        "--heartbeat-seconds",
        type=_positive_int,
        default=30,
        help="SQL storages: a worker beats this often; a trial of a worker silent for 4 beats "
        "is failed and retried (default: 30)",
    )
    search.set_defaults(handler=_run)


def _study_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The flags as configuration keys; ``None`` means not given, so the study's value stays."""
    return {
        "preset": args.model or args.preset,
        "task": args.task,
        "weights": str(args.weights) if args.weights else None,
        "data.path": str(args.data) if args.data else None,
        "trials": args.trials,
        "budget_ms": args.budget_ms,
        "accuracy_device": args.accuracy_device,
        "max_mae_increase": args.max_mae_increase,
        "sampler": args.sampler,
        "seed": args.seed,
        "objectives": tuple(args.objectives.split(",")) if args.objectives else None,
        "latency.threads": args.threads,
        "data.subset": args.subset,
    }


def _run(args: argparse.Namespace) -> None:
    from autocompress.models.registry import adapter_for
    from autocompress.study.config import model_settings, with_task_objectives
    from autocompress.study.pareto import format_front
    from autocompress.study.runner import run_search
    from autocompress.study.storage import Heartbeat, stored_definition, writable_dir
    from autocompress.study.study_files import (
        builtin_study,
        builtin_study_names,
        resolve_study_config,
    )

    writable_dir(args.run_dir, "run directory")  # the study, videos and plots go there
    named = args.study if args.config is None else None
    stored = stored_definition(named, args.storage, args.run_dir) if named else None
    if named and stored is None and builtin_study(named) is None:
        print(
            f"{named!r} is neither a study file nor a stored study: a new study from the "
            f"defaults (built-in studies: {', '.join(builtin_study_names())})"
        )
    config = resolve_study_config(args.study, args.config, _study_overrides(args), stored)
    adapter = adapter_for(model_settings(config, args.run_dir))
    config = with_task_objectives(config, adapter.objectives)
    budget = f"{config.budget_ms:g} ms" if config.budget_ms else "none"
    print(
        f"study {config.name!r}: {config.preset}, {config.trials} trials, budget {budget}, "
        f"sampler {config.sampler}, objectives {', '.join(config.objectives)}"
    )
    heartbeat = Heartbeat(args.heartbeat_seconds, 4 * args.heartbeat_seconds)
    outcome = run_search(
        config,
        args.storage,
        args.run_dir,
        progress=not args.no_progress,
        heartbeat=heartbeat,
        adapter=adapter,
    )
    noun = "trial" if outcome.finished_here == 1 else "trials"
    print(f"\n{outcome.finished_here} {noun} run here; feasible Pareto front:")
    print(format_front(outcome.study))
