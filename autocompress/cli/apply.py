"""``autocompress apply``: run a hand-written pipeline and compare it with the baseline.

The comparison (serialize both models, time both) is done here rather than in the library:
it is this command's report, timed as a deployment runs an artifact, not a study objective.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from autocompress.cli.calibration import add_calibration_option, calibration_clips
from autocompress.cli.options import _non_negative_int, _positive_int, adapter, add_model_options
from autocompress.errors import UserError


def add_parser(commands: argparse._SubParsersAction) -> None:
    apply = commands.add_parser(
        "apply", help="apply a hand-written compression pipeline (YAML); write the artifact"
    )
    apply.add_argument("pipeline", type=Path, metavar="PIPELINE.yaml")
    apply.add_argument("--out", type=Path, required=True, help="TorchScript file to write")
    add_model_options(apply)
    add_calibration_option(apply)
    apply.add_argument("--threads", type=_positive_int, help="torch intra-op threads")
    apply.add_argument("--warmup", type=_non_negative_int, default=2)
    apply.add_argument("--runs", type=_positive_int, default=5)
    apply.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> None:
    from autocompress.compression import Pipeline, apply_pipeline
    from autocompress.inputs import as_inputs, rows

    if not args.pipeline.is_file():
        raise UserError(f"pipeline file not found: {args.pipeline}")
    pipeline = Pipeline.from_yaml(args.pipeline.read_text())
    pipeline.validate()  # order mistakes are reported before any model is built
    model, source = adapter(args).load()
    print(f"preset {args.preset} ({source}), pipeline {args.pipeline}: {len(pipeline.steps)} steps")
    calibration = calibration_clips(model, args.calibration_clips)
    compressed, reports = apply_pipeline(model, pipeline, calibration)
    for report in reports:
        print(report)
    example = rows(as_inputs(calibration), 0, 1)
    _write_and_compare(args, baseline=model, compressed=compressed, example=example)


def _write_and_compare(args: argparse.Namespace, *, baseline, compressed, example) -> None:
    """Writes the compressed TorchScript to ``--out`` and prints its size and latency next to
    the baseline's, both timed as a deployment runs them: loaded back from their bytes."""
    from autocompress.backends import ARTIFACT_FORMATS
    from autocompress.evaluators.size import MIB
    from autocompress.timing import TimingProtocol, measure

    torchscript = ARTIFACT_FORMATS["torchscript"]
    data, baseline_data = (torchscript.serialize(m, example) for m in (compressed, baseline))
    args.out.write_bytes(data)
    size, baseline_size = len(data) / MIB, len(baseline_data) / MIB
    warmup = max(args.warmup, torchscript.settle_runs)
    protocol = TimingProtocol(warmup=warmup, runs=args.runs, threads=args.threads)
    runners = [torchscript.load(d) for d in (baseline_data, data)]
    baseline_timing, timed = (measure(lambda r=r: r(*example), protocol) for r in runners)
    print(f"\nwrote {args.out}")
    print(f"{'':<12}{'size MiB':>10}{'median ms':>11}")
    print(f"{'baseline':<12}{baseline_size:>10.2f}{baseline_timing.median_ms:>11.1f}")
    print(f"{'compressed':<12}{size:>10.2f}{timed.median_ms:>11.1f}")
    print(
        f"size x{size / baseline_size:.3f}, "
        f"latency x{timed.median_ms / baseline_timing.median_ms:.3f} "
        f"(frozen TorchScript, batch 1, {protocol.warmup} warm-up + {protocol.runs} timed runs, "
        f"threads {args.threads or 'default'})"
    )
