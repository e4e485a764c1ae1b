"""Studies: their definition, lifecycle, trial loop, Pareto front and export."""

from autocompress._exports import lazy_exports

_HOMES = {
    "ExportResult": "autocompress.study.export",
    "Feasibility": "autocompress.study.feasibility",
    "FrontTable": "autocompress.study.pareto",
    "SearchOutcome": "autocompress.study.runner",
    "StudyConfig": "autocompress.study.config",
    "TrialRecord": "autocompress.study.record",
    "export_trial": "autocompress.study.export",
    "feasible_front": "autocompress.study.pareto",
    "front_table": "autocompress.study.pareto",
    "load_existing_study": "autocompress.study.lifecycle",
    "load_study_config": "autocompress.study.study_files",
    "run_search": "autocompress.study.runner",
}

__all__ = sorted(_HOMES)
__getattr__ = lazy_exports(__name__, _HOMES)
