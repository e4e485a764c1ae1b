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

import dataclasses
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import optuna
import torch
from optuna.trial import TrialState

from autocompress.backends import ARTIFACT_FORMATS
from autocompress.compression import Pipeline
from autocompress.errors import UserError, first_line
from autocompress.files import write_atomically
from autocompress.inputs import Inputs
from autocompress.study.config import cap_text
from autocompress.study.confirm import confirmed_front
from autocompress.study.context import SearchContext, compress
from autocompress.study.fastest import CANDIDATES, pick_fastest
from autocompress.study.feasibility import Feasibility
from autocompress.study.pareto import (
    feasible_front,
    paired_cell,
    paired_difference,
    pipeline_summary,
    test_cell,
)
from autocompress.study.record import TrialRecord, baseline_trial, note_test_scores, test_scores
from autocompress.study.storage import writable_dir
from autocompress.study.test_set import score_test_set

__all__ = [
    "PICKS",
    "ExportResult",
    "accuracy_given_up",
    "check_export_dir",
    "export_trial",
    "exportable_trial",
    "pick_trial",
]


@dataclass(frozen=True)
class ExportResult:
    number: int
    pipeline: str  # its summary
    artifacts: dict[str, Path]  # format name -> file written
    skipped: dict[str, str]  # format name -> why that format cannot take the model
    metrics_file: Path
    trial_metrics: dict
    measured: dict
    test: dict | None = None  # its test-set scores (autocompress.study.test_set), if scored
    given_up: str | None = None  # the accuracy it gives up against the uncompressed model
    baseline_test: dict | None = None  # the uncompressed model's test-set scores, to pair with

    def __str__(self) -> str:
        """The files written, and each metric as the trial measured it and again now."""
        lines = [f"trial {self.number}: {self.pipeline}"]
        lines += [self.given_up] if self.given_up else []
        lines += [f"{name}: {path}" for name, path in self.artifacts.items()]
        lines += [f"{name}: not exported ({why})" for name, why in self.skipped.items()]
        lines += [f"metrics: {self.metrics_file}", f"{'':<16}{'trial':>10}{'re-measured':>13}"]
        for key, value in self.trial_metrics.items():
            shown = [
                f"{v:.3f}" if isinstance(v, float) else "-" for v in (value, self.measured.get(key))
            ]
            lines.append(f"{key:<16}{shown[0]:>10}{shown[1]:>13}")
        for name in self.test["errors"] if self.test else ():
            paired = paired_cell(self.test, self.baseline_test, name)
            lines.append(
                f"test {name:<11}{test_cell(self.test, name):>23}   paired {paired} against "
                "the uncompressed model"
            )
        if self.test:
            lines.append(
                f"(test: {self.test['items']} held-out items, ± a 95 % t-interval; paired: "
                "item by item)"
            )
        return "\n".join(lines)


PICKS = ("fastest", "smallest", "most-accurate")


def pick_trial(study: optuna.Study, choice: str, context: SearchContext | None = None) -> int:
    """A trial number from ``choice``: a number, or the Pareto point that is ``fastest``,
    ``smallest`` or ``most-accurate`` (lowest first task error of the study). The fastest is
    picked once the fastest few are timed again, with ``context`` (autocompress.study.fastest);
    why it was picked is said in one line."""
    if choice.isdigit():
        return int(choice)
    if choice not in PICKS:
        raise UserError(f"--trial takes a number or one of {', '.join(PICKS)}, not {choice!r}")
    front = feasible_front(study)  # within the budget and every error cap, as the front
    if not front:
        raise UserError(_no_feasible_point(study))
    errors = Feasibility.of(study).task_objectives
    if choice == "fastest":
        if context is None:
            raise ValueError("the fastest is picked by timing: give the study's context")
        candidates, verdicts = confirmed_front(study, context, CANDIDATES)
        for found in verdicts:
            logging.getLogger(__name__).info("on the test set, paired: %s", found.reading)
        if not candidates:
            raise UserError(
                f"no point of study {study.study_name!r} keeps the test caps on the test set: "
                + " | ".join(v.reading for v in verdicts)
            )
        pick = pick_fastest(candidates, context, errors[0] if errors else None)
        logging.getLogger(__name__).info("%s", pick.line)
        return pick.number

    def value(trial: optuna.trial.FrozenTrial) -> float | None:
        record = TrialRecord.of(trial)
        if choice == "smallest":
            return record.size_mib
        return record.errors.get(errors[0]) if errors else None

    measured = [t for t in front if value(t) is not None]
    if not measured:
        raise UserError(f"study {study.study_name!r} does not score accuracy: pick by number")
    return min(measured, key=value).number


def accuracy_given_up(study: optuna.Study, record: TrialRecord) -> str | None:
    """One line: each error of a trial (its ``record``) against the uncompressed model's, as
    the search counted them; None for a study that scores no accuracy."""
    baseline = baseline_trial(study)
    errors = record.errors
    reference = TrialRecord.of(baseline).errors if baseline else {}
    shown = [
        f"{name} {value:.4g} vs {reference[name]:.4g} ({value - reference[name]:+.3g})"
        for name, value in errors.items()
        if value is not None and reference.get(name) is not None
    ]
    if not shown:
        return None
    return f"against the uncompressed model it gives up: {', '.join(shown)}"


def _no_feasible_point(study: optuna.Study) -> str:
    """One line: no point to pick, and the limits none of the finished trials keeps."""
    feasibility = Feasibility.of(study)
    finished = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    limits = [f"budget {feasibility.budget_ms:g} ms"] if feasibility.budget_ms else []
    limits += [f"{name} {cap_text(cap)}" for name, cap in feasibility.max_error_increase.items()]
    within = f" keeps within {', '.join(limits)}" if limits else " was fully scored"
    return (
        f"study {study.study_name!r} has no feasible point to export: none of its {finished} "
        f"finished trials{within}"
    )


def exportable_trial(study: optuna.Study, number: int) -> optuna.trial.FrozenTrial:
    """The finished, feasible trial ``number``, or a :class:`UserError` saying why not."""
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    if number not in trials:
        last = max(trials) if trials else None
        raise UserError(f"study {study.study_name!r} has no trial {number} (last: {last})")
    trial = trials[number]
    record = TrialRecord.of(trial)
    if record.skipped:
        raise UserError(
            f"trial {number} was skipped: its latency was predicted at "
            f"{record.predicted_latency_ms:.0f} ms, far over the budget, and never measured"
        )
    if trial.state != TrialState.COMPLETE:
        reason = record.fail_reason or ""
        raise UserError(
            f"trial {number} is {trial.state.name}, not finished{': ' + reason if reason else ''}"
        )
    if record.screened is not None:
        screened = record.screened
        items = screened.get("items", screened.get("videos"))  # "videos": before adapters
        raise UserError(
            f"trial {number} was screened out after its first {items} items: its error "
            "estimate could not reach the front, so it was never scored on the whole set"
        )
    if not Feasibility.of(study)(trial):
        raise UserError(f"trial {number} is infeasible (over the latency budget or error limit)")
    return trial


# Written for every trial: the portable formats, cheap to make. A compiled format (AOTInductor)
# is written too when it is the study's own.
_ALWAYS_EXPORTED = ("torchscript", "exported-program")


def exported_formats(study_format: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*_ALWAYS_EXPORTED, study_format)))


def _export_paths(
    study: optuna.Study, number: int, out: Path, study_format: str
) -> tuple[dict[str, Path], Path]:
    """Each exported format's file, and the metrics file, in ``out``. Two formats share the
    ``.pt2`` suffix: the compiled one is told by its name, ``load_artifact`` by its content."""
    stem = f"{study.study_name}-trial{number}"
    paths = {}
    for name in exported_formats(study_format):
        fmt = ARTIFACT_FORMATS[name]
        tag = "" if name in _ALWAYS_EXPORTED else f".{name}"
        paths[name] = out / f"{stem}{tag}{fmt.suffix}"
    return paths, out / f"{stem}.json"


def check_export_dir(
    study: optuna.Study, number: int, out: Path, overwrite: bool, study_format: str
) -> None:
    """Refuse before any work: ``out`` must be a writable directory (made if missing). It may
    hold other files, but an earlier export of this trial is replaced only with ``overwrite``."""
    writable_dir(out, "export directory")
    artifacts, metrics_file = _export_paths(study, number, out, study_format)
    existing = [path.name for path in (*artifacts.values(), metrics_file) if path.exists()]
    if existing and not overwrite:
        raise UserError(
            f"{out} already holds trial {number}'s export ({', '.join(existing)}): "
            "pass --overwrite to replace it"
        )


def _serialize_all(
    model: torch.nn.Module, example: Inputs, formats: tuple[str, ...]
) -> tuple[dict[str, bytes], dict[str, str]]:
    """Bytes of every format that takes the model and runs as loaded, and why the others do
    not (torch.export refuses FX's int8 graphs: their TorchScript artifact is then the one to
    ship)."""
    written, skipped = {}, {}
    for name in formats:
        fmt = ARTIFACT_FORMATS[name]
        try:
            data = fmt.serialize(model, example)
            with torch.no_grad():
                fmt.load(data)(*example)  # never write an artifact that cannot run
            written[name] = data
        except Exception as error:
            skipped[name] = _reason(error)
    return written, skipped


def _reason(error: Exception) -> str:
    """One line: TorchScript's interpreter puts the Python error it raised last, after the
    code that raised it; other errors say what went wrong first."""
    if not isinstance(error, torch.jit.Error):
        return first_line(error)
    lines = [line for line in str(error).splitlines() if line.strip()] or [type(error).__name__]
    return lines[-1].strip()


def _test_score(
    study: optuna.Study, number: int, context: SearchContext, model: torch.nn.Module
) -> dict | None:
    """Trial ``number``'s score on the test set, counted now (its model is at hand) unless
    ``pareto --test`` counted it before; None without a test set."""
    known = test_scores(study).get(number)
    task = context.test_task()
    if known is not None or task is None:
        return known
    with context.evaluator.lock.shared():
        scores = score_test_set(task, model)
    note_test_scores(study, number, scores)
    return scores


def export_trial(
    study: optuna.Study, number: int, context: SearchContext, out: Path, overwrite: bool = False
) -> ExportResult:
    """Rebuild, measure and write trial ``number`` into ``out`` (see the module's notes)."""
    trial = exportable_trial(study, number)
    study_format = context.config.artifact
    check_export_dir(study, number, out, overwrite, study_format)
    record = TrialRecord.of(trial)
    pipeline = Pipeline.from_dict(record.pipeline)
    model, reports = compress(
        context.model, pipeline, context.calibration, context.config.accuracy_device
    )
    paths, metrics_file = _export_paths(study, number, out, study_format)
    written, skipped = _serialize_all(model, context.evaluator.example, tuple(paths))
    if study_format in skipped:
        raise UserError(
            f"trial {number} cannot be exported as its study's format ({study_format}): "
            f"{skipped[study_format]}"
        )
    metrics = context.evaluator(model)
    measured = {
        "latency_ms": metrics.latency_ms,
        "latency_spread_ms": metrics.latency_spread_ms,
        "size_mib": metrics.size_mib,  # the study format's file, serialized once more
        **{name: (metrics.errors or {}).get(name) for name in context.adapter.objectives},
    }
    test = _test_score(study, number, context, model)
    baseline = baseline_trial(study)
    baseline_test = (
        _test_score(study, baseline.number, context, context.model)
        if test is not None and baseline is not None
        else None
    )
    stored = {**dataclasses.asdict(record), **record.errors}
    trial_metrics = {k: stored.get(k) for k in measured}
    summary = {
        "study": study.study_name,
        "trial": number,
        "pipeline": record.pipeline,
        "weights": context.weights_source,
        "trial_metrics": trial_metrics,
        "measured_after_export": measured,
        "test_set": test,
        "test_paired": {  # its test errors minus the uncompressed model's, item by item
            name: paired_difference(test, baseline_test, name)
            for name in (test["errors"] if test else ())
        },
        "given_up": accuracy_given_up(study, record),
        "files": {name: paths[name].name for name in written},
        "not_exported": skipped,
        "steps": [str(report) for report in reports],
        "study_config": asdict(context.config),
    }
    files = {paths[name].name: data for name, data in written.items()}
    files[metrics_file.name] = json.dumps(summary, indent=2).encode()
    try:
        write_atomically({out / name: data for name, data in files.items()})
    except OSError as error:
        raise UserError(
            f"cannot write the export to {out}: {error.strerror}; no partial file was left "
            "and the study is unchanged"
        ) from error
    for name in skipped:  # an earlier export's file would not match these
        paths[name].unlink(missing_ok=True)
    artifacts = {name: paths[name] for name in written}
    summary_line = pipeline_summary(record.pipeline)
    return ExportResult(
        number,
        summary_line,
        artifacts,
        skipped,
        metrics_file,
        trial_metrics,
        measured,
        summary["test_set"],
        summary["given_up"],
        baseline_test,
    )
