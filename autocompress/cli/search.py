"""``autocompress search``: start or resume a study; the flags override its configuration."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from autocompress.cli.options import _error_limits, _positive_int, add_study_options

if TYPE_CHECKING:
    from autocompress.study.config import StudyConfig


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
        "--max-error-increase",
        type=_error_limits,
        action="append",
        metavar="ERROR=INCREASE",
        help="also infeasible: that task error more than INCREASE above the uncompressed "
        "model's (e.g. error=0.01; repeat it or join several with commas)",
    )
    search.add_argument(
        "--max-test-increase",
        type=_error_limits,
        action="append",
        metavar="ERROR=INCREASE",
        help="the caps a point must keep on the test set, paired with the uncompressed model, "
        "before export --trial fastest picks it (e.g. mae=0.03,obo=0.05)",
    )
    search.add_argument(
        "--max-mae-increase",
        type=float,
        help="the same as --max-error-increase mae=VALUE (RepNet's counting error)",
    )
    search.add_argument("--preset", help="repnet-s (default), repnet or digits")
    search.add_argument(
        "--model",
        metavar="MODULE:FACTORY",
        help="your own model instead of a preset: a factory returning an nn.Module (with "
        "--input-shape), (model, example_inputs) or an adapter",
    )
    search.add_argument(
        "--input-shape",
        metavar="SHAPE",
        help="with --model returning an nn.Module: its example input's shape, e.g. 1,3,224,224; "
        "several inputs joined by ';' (1,16;1,16). Inputs are random: floats standard normal, "
        "integers 0 or 1",
    )
    search.add_argument(
        "--input-type",
        metavar="TYPE",
        help="with --input-shape: each input's type, joined by ';' (int64;int64): float "
        "(default), int64, int32, uint8 or bool",
    )
    search.add_argument(
        "--task",
        metavar="MODULE:OBJECT",
        help="with --model: what scores it (a Task, or a function model -> error(s))",
    )
    search.add_argument(
        "--test-task",
        metavar="MODULE:OBJECT",
        help="with --model: the same errors on held-out items, counted on the front afterwards",
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
        "test_task": args.test_task,
        "input_shape": args.input_shape,
        "input_type": args.input_type,
        "weights": str(args.weights) if args.weights else None,
        "data.path": str(args.data) if args.data else None,
        "trials": args.trials,
        "budget_ms": args.budget_ms,
        "accuracy_device": args.accuracy_device,
        "max_mae_increase": args.max_mae_increase,
        **{
            f"max_error_increase.{name}": limit
            for limits in args.max_error_increase or ()
            for name, limit in limits.items()
        },
        **{
            f"max_test_increase.{name}": limit
            for limits in args.max_test_increase or ()
            for name, limit in limits.items()
        },
        "sampler": args.sampler,
        "seed": args.seed,
        "objectives": tuple(args.objectives.split(",")) if args.objectives else None,
        "latency.threads": args.threads,
        "data.subset": args.subset,
    }


def _first_line(config: StudyConfig) -> str:
    """What the study searches and the caps a point must keep to be feasible."""
    from autocompress.study.config import cap_text

    def shown(caps: dict) -> str:
        return ", ".join(f"{name} {cap_text(cap)}" for name, cap in caps.items()) or "none"

    budget = f"{config.budget_ms:g} ms" if config.budget_ms else "none"
    return (
        f"study {config.name!r}: {config.preset}, {config.trials} trials, budget {budget}, "
        f"error caps {shown(config.max_error_increase)}, "
        f"test caps {shown(config.max_test_increase)}, sampler {config.sampler}, "
        f"objectives {', '.join(config.objectives or ())}"
    )


def _run(args: argparse.Namespace) -> None:
    from autocompress.models.adapter import study_defaults
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
    config = with_task_objectives(config, adapter.objectives, study_defaults(adapter))
    print(_first_line(config))
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
