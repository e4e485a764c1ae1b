"""The feasible Pareto front of a study, as rows, a table and plots.

The front is computed here over feasible trials only: Optuna's ``best_trials`` honours
constraints only when the sampler stored them (the random sampler does not), and an infeasible
trial must never hide a feasible one by dominating it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from autocompress.compression import Pipeline
from autocompress.search.study import Feasibility

__all__ = ["FrontRow", "baseline_trial", "feasible_front", "format_front", "plot_front"]

_OBJECTIVE_ATTRS = {"latency": "latency_ms", "size": "size_mib", "mae": "mae", "obo": "obo"}


@dataclass(frozen=True)
class FrontRow:
    number: int
    pipeline: str
    latency_ms: float
    latency_spread_ms: float
    speedup: float | None  # to the baseline as its worker timed it then (older trials: None)
    size_mib: float
    mae: float | None
    obo: float | None
    warnings: int  # distinct library warnings the trial raised (the trial's "warnings")


def pipeline_summary(pipeline: dict) -> str:
    """A short human summary: technique letters and what each step touches."""
    parts = [step.summary() for step in Pipeline.from_dict(pipeline).steps]
    return " -> ".join(parts) or "baseline (uncompressed)"


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and a != b


def feasible_front(study: optuna.Study) -> list[FrozenTrial]:
    """Non-dominated feasible trials, fastest first."""
    is_feasible = Feasibility.of(study)
    feasible = [t for t in study.get_trials(deepcopy=False) if is_feasible(t)]
    values = {t.number: tuple(t.values) for t in feasible}
    front = [
        t
        for t in feasible
        if not any(_dominates(values[o.number], values[t.number]) for o in feasible)
    ]
    return sorted(front, key=lambda t: t.user_attrs["latency_ms"])


def baseline_trial(study: optuna.Study) -> FrozenTrial | None:
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return next((t for t in done if t.user_attrs.get("baseline")), None)


def _row(trial: FrozenTrial) -> FrontRow:
    attrs = trial.user_attrs
    return FrontRow(
        trial.number,
        pipeline_summary(attrs["pipeline"]),
        attrs["latency_ms"],
        attrs.get("latency_spread_ms", 0.0),
        attrs.get("speedup"),
        attrs["size_mib"],
        attrs.get("mae"),
        attrs.get("obo"),
        len(attrs.get("warnings", ())),
    )


def format_front(study: optuna.Study) -> str:
    """The front as a table, each row also relative to the uncompressed baseline, with how
    many warnings each trial raised (``autocompress -v`` prints them as they come).

    Latency is the median with its interquartile spread; the speed-up divides the baseline
    timed by the trial's worker shortly before (so a busier hour slows both alike), or, for
    trials stored without it, the baseline trial's latency."""
    front = [_row(t) for t in feasible_front(study)]
    base = baseline_trial(study)
    reference = _row(base) if base is not None else None
    lines = [
        f"{'trial':>5}  {'latency ms':>10} {'spread':>7} {'speed-up':>8}  {'MiB':>7} {'smaller':>7}"
        f"  {'MAE':>6} {'OBO':>5} {'warnings':>8}  pipeline"
    ]
    rows = ([reference] if reference else []) + [r for r in front if r != reference]
    for row in rows:
        ratio = row.speedup or (reference.latency_ms / row.latency_ms if reference else None)
        speed = f"{ratio:.2f}x" if ratio else "-"
        smaller = f"{1 - row.size_mib / reference.size_mib:.0%}" if reference else "-"
        mae = f"{row.mae:.3f}" if row.mae is not None else "-"
        obo = f"{row.obo:.2f}" if row.obo is not None else "-"
        marker = "" if row in front else "  (not on the front)"
        lines.append(
            f"{row.number:>5}  {row.latency_ms:>10.1f} {row.latency_spread_ms:>7.1f} {speed:>8}  "
            f"{row.size_mib:>7.2f} "
            f"{smaller:>7}  {mae:>6} {obo:>5} {row.warnings:>8}  {row.pipeline}{marker}"
        )
    return "\n".join(lines)


def plot_front(study: optuna.Study, png: Path) -> list[Path]:
    """Latency against MAE and against size, front highlighted (PNG), and Optuna's
    interactive Pareto plot (HTML next to it). Returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    is_feasible = Feasibility.of(study)
    feasible = [t for t in study.get_trials(deepcopy=False) if is_feasible(t)]
    front = {t.number for t in feasible_front(study)}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, attr, label in ((axes[0], "mae", "MAE"), (axes[1], "size_mib", "size (MiB)")):
        for on_front, style in ((False, {"c": "0.7", "s": 14}), (True, {"c": "C3", "s": 30})):
            points = [
                (t.user_attrs["latency_ms"], t.user_attrs[attr])
                for t in feasible
                if (t.number in front) == on_front and t.user_attrs.get(attr) is not None
            ]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.scatter(xs, ys, label="Pareto front" if on_front else "feasible trials", **style)
        ax.set_xlabel("latency (ms)")
        ax.set_ylabel(label)
        ax.legend()
    fig.suptitle(f"study {study.study_name}: {len(feasible)} feasible trials")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=120)
    plt.close(fig)
    names = study.metric_names or [f"objective {i}" for i in range(len(study.directions))]
    if len(names) < 2:  # Optuna's Pareto plot needs two or three objectives
        return [png]
    try:
        import plotly  # noqa: F401  the HTML plot's only user (the `html` extra)
    except ImportError:
        logging.getLogger(__name__).warning(
            "no interactive HTML plot: it needs plotly (pip install 'autocompress[html]')"
        )
        return [png]
    html = png.with_suffix(".html")
    targets_names = [n for n in ("latency", "mae") if n in names]
    if len(targets_names) < 2:
        targets_names = names[:2]
    indices = [names.index(n) for n in targets_names]
    figure = optuna.visualization.plot_pareto_front(
        study,
        targets=lambda t: [t.values[i] for i in indices],
        target_names=targets_names,
    )
    figure.write_html(html)
    return [png, html]
