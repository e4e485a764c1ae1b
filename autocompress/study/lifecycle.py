"""Creating a study, or resuming it with the same definition; reading one that must exist.

Running the same command again resumes the study. Of several workers started at once on a new
study, exactly one creates and defines it; the others wait for its definition.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import warnings
from pathlib import Path

import optuna
from optuna.exceptions import ExperimentalWarning

from autocompress.errors import UserError
from autocompress.study.config import StudyConfig
from autocompress.study.record import enqueue
from autocompress.study.samplers import make_sampler
from autocompress.study.storage import DEFAULT_HEARTBEAT, Heartbeat, make_storage, stored_config

__all__ = ["MAY_CHANGE_ON_RESUME", "READ_SETTINGS", "load_existing_study", "open_study"]


def _define(study: optuna.Study, config: StudyConfig, definition: dict) -> None:
    """Write a new study's definition; the stored ``config`` comes last, as the sign that the
    study is ready for other workers."""
    # The uncompressed model first, so every result can be shown relative to it.
    enqueue(study, {}, baseline=True)
    with warnings.catch_warnings():  # experimental in Optuna, and what plots label axes by
        warnings.simplefilter("ignore", ExperimentalWarning)
        study.set_metric_names(list(config.objectives))
    study.set_user_attr("config", json.dumps(definition))


def _wait_for_definition(study: optuna.Study, timeout_s: float = 30.0) -> dict | None:
    """The definition of a study another worker has just created (None if it never came:
    that worker died before writing it)."""
    deadline = time.monotonic() + timeout_s
    while (stored := stored_config(study)) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    return stored


# compression_limit_s only bounds how long a trial may compress: a study created before it
# existed resumes, and a resumed one may raise or lower it.
MAY_CHANGE_ON_RESUME = ("trials", "accuracy_device", "compression_limit_s")
# Settings that only decide which measured trials are feasible (:class:`Feasibility`): a study
# resumes with new ones and reads every trial it has with them.
READ_SETTINGS = ("budget_ms", "max_error_increase", "max_test_increase")


def open_study(
    config: StudyConfig,
    storage_url: str | None,
    run_dir: Path,
    *,
    heartbeat: Heartbeat = DEFAULT_HEARTBEAT,
) -> tuple[optuna.Study, bool]:
    """Create the study, or resume it if it exists with the same definition; the flag says
    whether this call created it.

    ``trials`` (the study's total) and ``accuracy_device`` (where counting runs: the same
    counts on any device) may change between runs, and the limits of :data:`READ_SETTINGS`
    (which then become the study's: its trials are read with them); anything else that
    changed would make stored results incomparable with new ones, so it is refused. Of several
    workers started at once on a new study, exactly one creates and defines it (the storage
    decides); the others wait for its definition, so the baseline is queued once.
    """
    sampler = make_sampler(config.sampler, config.seed)
    if config.objectives is None:
        raise ValueError("open_study needs the objectives resolved (with_task_objectives)")
    storage = make_storage(storage_url, run_dir, heartbeat=heartbeat)
    definition = dataclasses.asdict(config)
    for key in MAY_CHANGE_ON_RESUME:
        del definition[key]
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=config.name,
            directions=["minimize"] * len(config.objectives),
            sampler=sampler,
        )
    except optuna.exceptions.DuplicatedStudyError:
        # Only the worker that creates a study draws from its seed: workers sharing a seed
        # would sample the same pipelines.
        sampler.reseed_rng()
        study = optuna.load_study(study_name=config.name, storage=storage, sampler=sampler)
        stored = _wait_for_definition(study)
    else:
        stored = None
    if stored is None:
        _define(study, config, definition)
        return study, True
    if stored != json.loads(json.dumps(definition)):
        changed = _changed(definition, stored)
        if not changed <= set(READ_SETTINGS):
            _refuse_other_definition(config.name, definition, stored)
        study.set_user_attr("config", json.dumps(definition))
        for key in sorted(changed):
            logging.getLogger(__name__).info(
                "study %r: %s %s -> %s; its measured trials are kept and read with it",
                config.name,
                key,
                stored[key],
                definition[key],
            )
    return study, False


def _changed(definition: dict, stored: dict) -> set[str]:
    """Keys whose value differs; a key the stored definition lacks counts as changed."""
    return {
        key
        for key in definition
        if key not in stored or json.dumps(definition[key]) != json.dumps(stored[key])
    }


def _refuse_other_definition(name: str, definition: dict, stored: dict) -> None:
    """Stored results are only comparable with new ones measured the same way."""
    newer = sorted(set(definition) - set(stored))
    if newer:
        raise UserError(
            f"study {name!r} was created by an older autocompress, which had no "
            f"{', '.join(newer)} setting and measured differently: start a new study "
            "with another --study name (or another --run-dir)"
        )
    changed = sorted(_changed(definition, stored) - set(READ_SETTINGS))
    raise UserError(
        f"study {name!r} exists with other settings ({', '.join(changed)}); "
        "use the same ones to resume, or another --study name"
    )


def load_existing_study(name: str, storage_url: str | None, run_dir: Path) -> optuna.Study:
    """A study that must already exist (for ``pareto`` and ``export``)."""
    if storage_url is None and not (run_dir / "study.db").is_file():
        raise UserError(f"no studies in {run_dir} yet: run `autocompress search` first")
    storage = make_storage(storage_url, run_dir)
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        raise UserError(
            f"no study named {name!r} in this storage; studies: {', '.join(names) or 'none'}"
        ) from None
