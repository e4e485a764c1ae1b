"""The ``autocompress`` command: parses arguments, calls the library, prints.

Each subcommand is a ``_cmd_*`` function taking the parsed arguments. User errors
(:class:`UserError`) become one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
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


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _unit_float(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset", default=DEFAULT_PRESET, help=f"model preset (default: {DEFAULT_PRESET})"
    )
    parser.add_argument(
        "--weights", type=Path, help="weights file (default: the preset's shipped weights)"
    )


def _adapter(args: argparse.Namespace):
    """The adapter of ``--preset`` with ``--weights``, as a study would set it up."""
    from autocompress.models.registry import ModelSettings, adapter_for

    weights = str(args.weights) if args.weights else None
    return adapter_for(ModelSettings(preset=args.preset, run_dir=Path("runs"), weights=weights))


def _cmd_profile(args: argparse.Namespace) -> None:
    from autocompress.analysis.profile import plot_profile, profile_model
    from autocompress.timing import TimingProtocol

    adapter = _adapter(args)
    model, source = adapter.load()
    protocol = TimingProtocol(warmup=args.warmup, runs=args.runs, threads=args.threads)
    example = adapter.example_inputs(args.batch_size)
    profile = profile_model(model, example, adapter.profile_parts(), protocol)
    shape = "x".join(str(d) for d in example.shape)
    threads = args.threads or "default"
    print(f"preset {args.preset} ({source}), input {shape}, threads {threads}")
    print(f"{protocol.warmup} warm-up + {protocol.runs} timed runs per part; spread = IQR\n")
    print(profile)
    if args.plot:
        plot_profile(profile, args.plot, f"{args.preset}: share of latency and weights")
        print(f"\nplot written to {args.plot}")


def _cmd_train(args: argparse.Namespace) -> None:
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


def _frame_size(text: str) -> tuple[int, int]:
    """``WxH`` or one number for a square."""
    width, _, height = text.lower().partition("x")
    try:
        return int(width), int(height or width)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT or SIZE, got {text!r}") from None


def _cmd_data_synth(args: argparse.Namespace) -> None:
    from autocompress.data.synthetic import SynthStyle, generate_dataset

    looks = {"size": args.size, "fps": args.fps}
    try:
        style = SynthStyle(**{key: value for key, value in looks.items() if value is not None})
    except ValueError as error:
        raise UserError(str(error)) from error
    videos = generate_dataset(
        args.out, args.videos, seed=args.seed, style=style, overwrite=args.overwrite, progress=True
    )
    counts = [video.count for video in videos]
    frames = [video.frames for video in videos]
    print(
        f"wrote {len(videos)} videos ({style.size[0]}x{style.size[1]}, {style.fps} fps, "
        f"{min(frames)}-{max(frames)} frames, {min(counts)}-{max(counts)} repetitions) "
        f"to {args.out}/videos and {args.out}/annotations"
    )


def _cmd_evaluate(args: argparse.Namespace) -> None:
    import dataclasses
    import json

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
        print(
            json.dumps(
                {
                    "preset": args.preset,
                    "weights": source,
                    "counting": procedure,
                    **report.to_dict(),
                },
                indent=2,
            )
        )
        return
    print(f"preset {args.preset} ({source}), {size}x{size} frames, data {args.data}")
    print(f"counting: {procedure}\n")
    width = max(len("video"), *(len(v.name) for v in report.videos))
    print(f"{'video':<{width}}{'true':>7}{'pred':>7}{'error':>8}")
    for video in report.videos:
        error = video.pred - video.true
        print(f"{video.name:<{width}}{video.true:>7}{video.pred:>7}{error:>+8}")
    print(f"\nMAE {report.mae:.3f}   OBO {report.obo:.3f}   ({report.n_videos} videos)")


def _calibration_clips(model, count: int):
    from autocompress.compression.calibration import random_clips

    print(f"calibration: {count} random clips in [-1, 1] (no videos given)")
    return random_clips(model, count)


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
            failure = failure or (str(error).strip().splitlines() or [type(error).__name__])[0]
            continue
        if not isinstance(outputs, tuple | list) or len(outputs) < 2:
            raise UserError(f"{path} is not a repetition counter: it returns no period logits")
        return model, batch
    raise UserError(f"{path} does not take clips of {shape} (--preset sets the shape): {failure}")


def _cmd_apply(args: argparse.Namespace) -> None:
    from autocompress.backends import ARTIFACT_FORMATS
    from autocompress.compression import Pipeline, apply_pipeline
    from autocompress.evaluators.size import MIB
    from autocompress.timing import TimingProtocol, measure

    if not args.pipeline.is_file():
        raise UserError(f"pipeline file not found: {args.pipeline}")
    pipeline = Pipeline.from_yaml(args.pipeline.read_text())
    pipeline.validate()  # order mistakes are reported before any model is built
    model, source = _adapter(args).load()
    print(f"preset {args.preset} ({source}), pipeline {args.pipeline}: {len(pipeline.steps)} steps")
    calibration = _calibration_clips(model, args.calibration_clips)
    compressed, reports = apply_pipeline(model, pipeline, calibration)
    for report in reports:
        print(report)
    example = calibration[:1]
    # Both timed as a deployment runs them: loaded back from their bytes and prepared.
    torchscript = ARTIFACT_FORMATS["torchscript"]
    data, baseline_data = (torchscript.serialize(m, example) for m in (compressed, model))
    args.out.write_bytes(data)
    size, baseline_size = len(data) / MIB, len(baseline_data) / MIB
    warmup = max(args.warmup, torchscript.settle_runs)
    protocol = TimingProtocol(warmup=warmup, runs=args.runs, threads=args.threads)
    runners = [torchscript.load(d) for d in (baseline_data, data)]
    baseline, timed = (measure(lambda r=r: r(example), protocol) for r in runners)
    print(f"\nwrote {args.out}")
    print(f"{'':<12}{'size MiB':>10}{'median ms':>11}")
    print(f"{'baseline':<12}{baseline_size:>10.2f}{baseline.median_ms:>11.1f}")
    print(f"{'compressed':<12}{size:>10.2f}{timed.median_ms:>11.1f}")
    print(
        f"size x{size / baseline_size:.3f}, latency x{timed.median_ms / baseline.median_ms:.3f} "
        f"(frozen TorchScript, batch 1, {protocol.warmup} warm-up + {protocol.runs} timed runs, "
        f"threads {args.threads or 'default'})"
    )


def _cmd_sqnr(args: argparse.Namespace) -> None:
    from autocompress.analysis.sqnr import layer_sqnr

    model, source = _adapter(args).load()
    print(f"preset {args.preset} ({source}): every quantizable layer static int8 (FX, x86)")
    results = layer_sqnr(model, _calibration_clips(model, args.calibration_clips))
    width = max(len(r.name) for r in results)
    print(f"\n{'layer':<{width}}  {'SQNR dB':>8}  int8 module")
    for result in results:
        print(f"{result.name:<{width}}  {result.sqnr_db:>8.1f}  {result.quantized_type}")


def _study_overrides(args: argparse.Namespace) -> dict[str, object]:
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


def _cmd_search(args: argparse.Namespace) -> None:
    from autocompress.models.registry import adapter_for
    from autocompress.study.config import (
        builtin_study,
        builtin_study_names,
        model_settings,
        resolve_study_config,
        with_task_objectives,
    )
    from autocompress.study.lifecycle import Heartbeat, stored_definition, writable_dir
    from autocompress.study.pareto import format_front
    from autocompress.study.runner import run_search

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


def _cmd_pareto(args: argparse.Namespace) -> None:
    from autocompress.study.lifecycle import load_existing_study
    from autocompress.study.pareto import format_front, plot_front

    study = load_existing_study(args.study or "default", args.storage, args.run_dir)
    print(format_front(study))
    plot = args.plot or args.run_dir / f"{study.study_name}-pareto.png"
    try:
        written = plot_front(study, plot)
    except OSError as error:
        raise UserError(f"cannot write the plot {plot}: {error.strerror} (see --plot)") from error
    for path in written:
        print(f"plot written to {path}")
    if args.retime:
        from autocompress.study.config import study_config_from_dict
        from autocompress.study.context import build_context
        from autocompress.study.lifecycle import stored_config
        from autocompress.study.retime import format_retimed, retime_front

        config = study_config_from_dict(stored_config(study))
        context = build_context(config, args.run_dir, study)
        print()
        print(format_retimed(retime_front(study, context, args.rounds), args.rounds))


def _cmd_export(args: argparse.Namespace) -> None:
    from autocompress.study.config import study_config_from_dict
    from autocompress.study.context import build_context
    from autocompress.study.export import (
        check_export_dir,
        export_trial,
        exportable_trial,
        pick_trial,
    )
    from autocompress.study.lifecycle import load_existing_study, stored_config

    study = load_existing_study(args.study or "default", args.storage, args.run_dir)
    number = pick_trial(study, args.trial)
    exportable_trial(study, number)  # refuse early, before building anything
    config = study_config_from_dict(stored_config(study))
    check_export_dir(study, number, args.out, args.overwrite, config.artifact)
    context = build_context(config, args.run_dir, study)
    print(export_trial(study, number, context, args.out, args.overwrite))


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
    train.add_argument("--init", type=Path, help="start from these weights (fine-tune)")
    train.add_argument("--learning-rate", type=_positive_float, default=1e-3)
    train.add_argument(
        "--curriculum-start",
        type=_unit_float,
        default=0.1,
        help="clip difficulty at step 0, rising to 1 (1: no curriculum, e.g. with --init)",
    )
    train.add_argument("--threads", type=_positive_int, help="torch intra-op threads")
    train.set_defaults(handler=_cmd_train)

    data = commands.add_parser("data", help="repetition video sets")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    synth = data_commands.add_parser(
        "synth", help="write synthetic repetition videos + annotations in the QUVA layout"
    )
    synth.add_argument("--out", type=Path, required=True, help="directory to write")
    synth.add_argument("--videos", type=_positive_int, default=20)
    synth.add_argument("--seed", type=_non_negative_int, default=0)
    synth.add_argument("--size", type=_frame_size, metavar="WxH", help="frame size (160x120)")
    synth.add_argument("--fps", type=_positive_int, help="frame rate (25)")
    synth.add_argument("--overwrite", action="store_true", help="replace existing videos in --out")
    synth.set_defaults(handler=_cmd_data_synth)

    evaluate = commands.add_parser(
        "evaluate", help="count repetitions in a QUVA-layout set; report MAE and OBO"
    )
    evaluate.add_argument("--data", type=Path, required=True, help="videos/ + annotations/ dir")
    _add_model_options(evaluate)
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
    evaluate.set_defaults(handler=_cmd_evaluate)

    apply = commands.add_parser(
        "apply", help="apply a hand-written compression pipeline (YAML); write the artifact"
    )
    apply.add_argument("pipeline", type=Path, metavar="PIPELINE.yaml")
    apply.add_argument("--out", type=Path, required=True, help="TorchScript file to write")
    _add_model_options(apply)
    apply.add_argument("--calibration-clips", type=_positive_int, default=2)
    apply.add_argument("--threads", type=_positive_int, help="torch intra-op threads")
    apply.add_argument("--warmup", type=_non_negative_int, default=2)
    apply.add_argument("--runs", type=_positive_int, default=5)
    apply.set_defaults(handler=_cmd_apply)

    sqnr = commands.add_parser(
        "sqnr", help="per-layer SQNR of a fully int8 model vs float, highest first"
    )
    _add_model_options(sqnr)
    sqnr.add_argument("--calibration-clips", type=_positive_int, default=2)
    sqnr.set_defaults(handler=_cmd_sqnr)

    def study_options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--study", help="study name (default: the study file's, or default)")
        parser.add_argument(
            "--storage",
            help="Optuna storage URL, or journal:PATH (default: SQLite under --run-dir)",
        )
        parser.add_argument(
            "--run-dir",
            type=Path,
            default=Path("runs"),
            help="where studies, videos and plots live (default: ./runs)",
        )

    search = commands.add_parser("search", help="search compression pipelines (resumes a study)")
    study_options(search)
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
    search.set_defaults(handler=_cmd_search)

    pareto = commands.add_parser("pareto", help="the feasible Pareto front: table and plots")
    study_options(pareto)
    pareto.add_argument("--plot", type=Path, help="PNG path (default: RUN_DIR/STUDY-pareto.png)")
    pareto.add_argument(
        "--retime",
        action="store_true",
        help="rebuild the front and time it again in turns with the baseline",
    )
    pareto.add_argument("--rounds", type=_positive_int, default=3, help="with --retime")
    pareto.set_defaults(handler=_cmd_pareto)

    export = commands.add_parser("export", help="rebuild a trial's model and write it out")
    study_options(export)
    export.add_argument(
        "--trial",
        required=True,
        help="trial number, or the Pareto point that is fastest, smallest or most-accurate",
    )
    export.add_argument("--out", type=Path, required=True, help="output directory")
    export.add_argument(
        "--overwrite", action="store_true", help="replace this trial's files if --out has them"
    )
    export.set_defaults(handler=_cmd_export)
    return parser


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


class _AboveProgressBars(logging.Handler):
    """The one channel the library speaks through: its notices (INFO) on stdout, warnings and
    ``-v``'s details on stderr, each above any progress bar instead of through it; our own
    warnings are marked as our errors are."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        text = record.getMessage().rstrip()
        if record.name.startswith("autocompress") and record.levelno >= logging.WARNING:
            text = f"autocompress: warning: {text}"
        tqdm.write(text, file=sys.stdout if record.levelno == logging.INFO else sys.stderr)


@contextlib.contextmanager
def _library_output(verbose: bool) -> Iterator[None]:
    """The library's notices are printed, and its warnings. Python warnings (torch.ao
    deprecations, pruning notes) go to logging and are printed with ``-v`` only, like the
    warnings each trial records (the study keeps those anyway): unasked, they would break
    tables and progress bars."""
    shown = _AboveProgressBars()
    library_handler = shown if verbose else logging.NullHandler()
    library, ours = logging.getLogger("py.warnings"), logging.getLogger("autocompress")
    level = ours.level
    library.addHandler(library_handler)
    ours.addHandler(shown)
    ours.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.captureWarnings(True)
    try:
        with warnings.catch_warnings():
            if verbose and not sys.warnoptions:  # deprecations too, once per place
                warnings.simplefilter("default")
            yield
    finally:
        logging.captureWarnings(False)
        library.removeHandler(library_handler)
        ours.removeHandler(shown)
        ours.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # `kill` stops as cleanly as Ctrl-C: training checkpoints, a search re-queues its trial.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with _library_output(args.verbose):
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
