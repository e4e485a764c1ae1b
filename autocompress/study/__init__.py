"""Studies: their definition, lifecycle, trial loop, Pareto front and export."""

from importlib import import_module
from typing import Any

__all__ = [
    "ExportResult",
    "Feasibility",
    "FrontTable",
    "SearchOutcome",
    "StudyConfig",
    "TrialRecord",
    "export_trial",
    "feasible_front",
    "front_table",
    "load_existing_study",
    "load_study_config",
    "run_search",
]

_HOMES = {
    "ExportResult": "autocompress.study.export",
    "Feasibility": "autocompress.study.lifecycle",
    "FrontTable": "autocompress.study.pareto",
    "SearchOutcome": "autocompress.study.runner",
    "StudyConfig": "autocompress.study.config",
    "TrialRecord": "autocompress.study.record",
    "export_trial": "autocompress.study.export",
    "feasible_front": "autocompress.study.pareto",
    "front_table": "autocompress.study.pareto",
    "load_existing_study": "autocompress.study.lifecycle",
    "load_study_config": "autocompress.study.config",
    "run_search": "autocompress.study.runner",
}


def __getattr__(name: str) -> Any:
    """The public names, from the modules that define them, loaded on first use."""
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
