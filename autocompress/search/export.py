"""Exporting a trial: rebuild its model from the stored pipeline, write the deployable files,
and measure them again so the user sees the numbers of what they ship.

Compression is deterministic (magnitude pruning, seeded decompositions, the study's fixed
calibration clips), so the rebuilt artifact has exactly the trial's size; latency and accuracy
are measured again and reported beside the trial's values.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import optuna
import torch
from optuna.trial import TrialState

from autocompress.compression import Pipeline
from autocompress.errors import UserError
from autocompress.evaluators.size import MIB, script_artifact, serialize
from autocompress.search.context import SearchContext, compress
from autocompress.search.pareto import feasible_front
from autocompress.search.runner import is_feasible

__all__ = ["PICKS", "ExportResult", "export_trial", "exportable_trial", "pick_trial"]


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


def export_trial(
    study: optuna.Study, number: int, context: SearchContext, out: Path
) -> ExportResult:
    trial = exportable_trial(study, number)
    pipeline = Pipeline.from_dict(trial.user_attrs["pipeline"])
    model, reports = compress(context.model, pipeline, context.calibration)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{study.study_name}-trial{number}"
    example = context.evaluator.example
    data = serialize(script_artifact(model, example))
    torchscript = out / f"{stem}.pt"
    torchscript.write_bytes(data)

    exported_program, note = out / f"{stem}.pt2", None
    try:
        torch.export.save(torch.export.export(model, (example,)), exported_program)
    except Exception as error:  # torch.export refuses some quantized graphs; say so, keep .pt
        exported_program, note = None, f"torch.export failed: {str(error).splitlines()[0]}"

    metrics = context.evaluator(model)
    measured = {
        "latency_ms": metrics.latency_ms,
        "latency_spread_ms": metrics.latency_spread_ms,
        "size_mib": len(data) / MIB,
        "mae": metrics.mae,
        "obo": metrics.obo,
    }
    attrs = trial.user_attrs
    trial_metrics = {
        k: attrs.get(k) for k in ("latency_ms", "latency_spread_ms", "size_mib", "mae", "obo")
    }
    metrics_file = out / f"{stem}.json"
    metrics_file.write_text(
        json.dumps(
            {
                "study": study.study_name,
                "trial": number,
                "pipeline": attrs["pipeline"],
                "weights": context.weights_source,
                "trial_metrics": trial_metrics,
                "measured_after_export": measured,
                "files": {
                    "torchscript": torchscript.name,
                    "exported_program": exported_program.name if exported_program else None,
                },
                "note": note,
                "steps": [str(report) for report in reports],
                "study_config": asdict(context.config),
            },
            indent=2,
        )
    )
    return ExportResult(torchscript, exported_program, metrics_file, trial_metrics, measured, note)
