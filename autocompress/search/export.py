"""Exporting a trial: rebuild its model from the stored pipeline, write the deployable files,
and measure them again so the user sees the numbers of what they ship.

Compression is deterministic (magnitude pruning, seeded decompositions, the study's fixed
calibration clips), so the rebuilt artifact has exactly the trial's size; latency and accuracy
are measured again and reported beside the trial's values.

The files of an export appear together or not at all: each is written under a temporary name
in the output directory and renamed into place once all are complete, so a full disk or a
crash leaves no truncated file, and files being replaced stay intact until then.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import optuna
import torch
from optuna.trial import TrialState

from autocompress.backends import ARTIFACT_FORMATS
from autocompress.compression import Pipeline
from autocompress.errors import UserError
from autocompress.search.context import SearchContext, compress
from autocompress.search.pareto import feasible_front
from autocompress.search.runner import is_feasible
from autocompress.search.study import writable_dir

__all__ = [
    "PICKS",
    "ExportResult",
    "check_export_dir",
    "export_trial",
    "exportable_trial",
    "pick_trial",
]


@dataclass(frozen=True)
class ExportResult:
    torchscript: Path
    exported_program: Path | None  # None when torch.export cannot take the model (see note)
    metrics_file: Path
    trial_metrics: dict
    measured: dict
    note: str | None


PICKS = {"fastest": "latency_ms", "smallest": "size_mib", "most-accurate": "mae"}


def pick_trial(study: optuna.Study, choice: str) -> int:
    """A trial number from ``choice``: a number, or the Pareto point that is ``fastest``,
    ``smallest`` or ``most-accurate`` (lowest MAE)."""
    if choice.isdigit():
        return int(choice)
    if choice not in PICKS:
        raise UserError(f"--trial takes a number or one of {', '.join(PICKS)}, not {choice!r}")
    front = feasible_front(study)
    if not front:
        raise UserError(f"study {study.study_name!r} has no feasible trial yet")
    measured = [t for t in front if t.user_attrs.get(PICKS[choice]) is not None]
    if not measured:
        raise UserError(f"study {study.study_name!r} does not score accuracy: pick by number")
    return min(measured, key=lambda t: t.user_attrs[PICKS[choice]]).number


def exportable_trial(study: optuna.Study, number: int) -> optuna.trial.FrozenTrial:
    """The finished, feasible trial ``number``, or a :class:`UserError` saying why not."""
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    if number not in trials:
        last = max(trials) if trials else None
        raise UserError(f"study {study.study_name!r} has no trial {number} (last: {last})")
    trial = trials[number]
    if trial.state != TrialState.COMPLETE:
        reason = trial.user_attrs.get("fail_reason", "")
        raise UserError(
            f"trial {number} is {trial.state.name}, not finished{': ' + reason if reason else ''}"
        )
    if not is_feasible(trial):
        raise UserError(f"trial {number} is infeasible (over the latency budget or error limit)")
    return trial


def _export_paths(study: optuna.Study, number: int, out: Path) -> tuple[Path, Path, Path]:
    """The trial's TorchScript artifact, torch.export program and metrics file in ``out``."""
    stem = f"{study.study_name}-trial{number}"
    return out / f"{stem}.pt", out / f"{stem}.pt2", out / f"{stem}.json"


def check_export_dir(study: optuna.Study, number: int, out: Path, overwrite: bool) -> None:
    """Refuse before any work: ``out`` must be a writable directory (made if missing). It may
    hold other files, but an earlier export of this trial is replaced only with ``overwrite``."""
    writable_dir(out, "export directory")
    existing = [path.name for path in _export_paths(study, number, out) if path.exists()]
    if existing and not overwrite:
        raise UserError(
            f"{out} already holds trial {number}'s export ({', '.join(existing)}): "
            "pass --overwrite to replace it"
        )


def _exported_program(
    model: torch.nn.Module, example: torch.Tensor
) -> tuple[bytes | None, str | None]:
    """The torch.export program's bytes, or None and why: torch.export refuses some quantized
    graphs, and the TorchScript artifact is then the only one."""
    try:
        return ARTIFACT_FORMATS["exported-program"].serialize(model, example), None
    except Exception as error:
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        return None, f"torch.export failed: {reason}"


def _write_together(out: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` under temporary names in ``out``, then rename them all into place."""
    partial = {name: out / f".{name}.{os.getpid()}.partial" for name in files}
    try:
        for name, data in files.items():
            with open(partial[name], "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
        for name, path in partial.items():
            os.replace(path, out / name)
    finally:
        for path in partial.values():
            path.unlink(missing_ok=True)


def export_trial(
    study: optuna.Study,
    number: int,
    context: SearchContext,
    out: Path,
    overwrite: bool = False,
) -> ExportResult:
    """Rebuild, measure and write trial ``number`` into ``out`` (see the module's notes)."""
    trial = exportable_trial(study, number)
    check_export_dir(study, number, out, overwrite)
    pipeline = Pipeline.from_dict(trial.user_attrs["pipeline"])
    model, reports = compress(context.model, pipeline, context.calibration)
    example = context.evaluator.example
    data = ARTIFACT_FORMATS["torchscript"].serialize(model, example)
    program, note = _exported_program(model, example)
    if context.config.artifact == "exported-program" and program is None:
        raise UserError(f"trial {number} cannot be exported as its study's format: {note}")
    metrics = context.evaluator(model)
    measured = {
        "latency_ms": metrics.latency_ms,
        "latency_spread_ms": metrics.latency_spread_ms,
        "size_mib": metrics.size_mib,  # the study format's file, serialized once more
        "mae": metrics.mae,
        "obo": metrics.obo,
    }
    attrs = trial.user_attrs
    trial_metrics = {
        k: attrs.get(k) for k in ("latency_ms", "latency_spread_ms", "size_mib", "mae", "obo")
    }
    torchscript, exported, metrics_file = _export_paths(study, number, out)
    summary = {
        "study": study.study_name,
        "trial": number,
        "pipeline": attrs["pipeline"],
        "weights": context.weights_source,
        "trial_metrics": trial_metrics,
        "measured_after_export": measured,
        "files": {
            "torchscript": torchscript.name,
            "exported_program": exported.name if program is not None else None,
        },
        "note": note,
        "steps": [str(report) for report in reports],
        "study_config": asdict(context.config),
    }
    files = {torchscript.name: data, metrics_file.name: json.dumps(summary, indent=2).encode()}
    if program is not None:
        files[exported.name] = program
    try:
        _write_together(out, files)
    except OSError as error:
        raise UserError(
            f"cannot write the export to {out}: {error.strerror}; no partial file was left "
            "and the study is unchanged"
        ) from error
    if program is None:  # an earlier export's program would not match these files
        exported.unlink(missing_ok=True)
    program_file = None if program is None else exported
    return ExportResult(torchscript, program_file, metrics_file, trial_metrics, measured, note)
