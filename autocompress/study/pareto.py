"""The feasible Pareto front of a study, as rows, a table and plots.

The front is computed here over feasible trials only: Optuna's ``best_trials`` honours
constraints only when the sampler stored them (the random sampler does not), and an infeasible
trial must never hide a feasible one by dominating it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
from optuna.trial import FrozenTrial
from scipy import stats

from autocompress.compression import Pipeline
from autocompress.study.feasibility import Feasibility
from autocompress.study.record import TrialRecord, baseline_trial, test_scores

__all__ = [
    "FrontRow",
    "FrontTable",
    "feasible_front",
    "format_front",
    "front_table",
    "paired_cell",
    "paired_difference",
    "plot_front",
]


@dataclass(frozen=True)
class FrontRow:
    number: int
    pipeline: str
    latency_ms: float
    latency_spread_ms: float
    speedup: float | None  # stored: to the baseline timed in turns with it (old trials: None)
    size_mib: float
    errors: dict[str, float | None]  # the task's, by objective name
    warnings: int  # distinct library warnings the trial raised (the trial's "warnings")
    test: dict | None = None  # its test-set scores (autocompress.study.test_set); None: none


def test_cell(test: dict | None, name: str) -> str:
    """``mean±half-width`` of error ``name`` on the test set, or "-" when not scored."""
    if test is None or test["errors"].get(name) is None:
        return "-"
    half = test["ci95"].get(name)
    return f"{test['errors'][name]:.3f}" + ("" if half is None else f"±{half:.3f}")


def paired_difference(
    test: dict | None, reference: dict | None, name: str
) -> tuple[float, float | None] | None:
    """Error ``name`` of ``test`` minus ``reference``'s (test-set scores of a compressed and
    the uncompressed model), item by item on the same items: the mean difference and the
    half-width of its 95 % Student-t interval (None for one item). The pairs cancel what the
    items share (a hard video is hard for both), so the interval is narrower than either
    model's own. None where either lacks per-item errors (scored before they were kept)."""
    if not test or not reference or "item_errors" not in test or "item_errors" not in reference:
        return None
    names = list(test["errors"])
    if name not in names or len(test["item_errors"]) != len(reference["item_errors"]):
        return None
    column = names.index(name)
    differences = (
        np.asarray(test["item_errors"])[:, column] - np.asarray(reference["item_errors"])[:, column]
    )
    items = len(differences)
    if items < 2:
        return float(differences.mean()), None
    spread = differences.std(ddof=1) / math.sqrt(items)
    return float(differences.mean()), float(stats.t.ppf(0.975, items - 1) * spread)


def paired_cell(test: dict | None, reference: dict | None, name: str) -> str:
    """``+difference±half-width`` of :func:`paired_difference`, or "-"."""
    paired = paired_difference(test, reference, name)
    if paired is None:
        return "-"
    mean, half = paired
    return f"{mean:+.3f}" + ("" if half is None else f"±{half:.3f}")


def pipeline_summary(pipeline: dict) -> str:
    """A short human summary: technique letters and what each step touches."""
    parts = [step.summary() for step in Pipeline.from_dict(pipeline).steps]
    return " -> ".join(parts) or "baseline (uncompressed)"


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and a != b


def feasible_front(study: optuna.Study) -> list[FrozenTrial]:
    """Non-dominated feasible trials, fastest first; a trial that took over another's
    measurements (``duplicate_of``) is that trial's point, shown once."""
    is_feasible = Feasibility.of(study)
    feasible = [
        t
        for t in study.get_trials(deepcopy=False)
        if is_feasible(t) and TrialRecord.of(t).duplicate_of is None
    ]
    values = {t.number: tuple(t.values) for t in feasible}
    front = [
        t
        for t in feasible
        if not any(_dominates(values[o.number], values[t.number]) for o in feasible)
    ]
    return sorted(front, key=lambda t: TrialRecord.of(t).latency_ms)


def _row(trial: FrozenTrial, error_names: tuple[str, ...], test: dict | None) -> FrontRow:
    record = TrialRecord.of(trial)
    return FrontRow(
        trial.number,
        pipeline_summary(record.pipeline),
        record.latency_ms,
        record.latency_spread_ms or 0.0,
        record.speedup,
        record.size_mib,
        {name: record.errors.get(name) for name in error_names},
        len(record.warnings),
        test,
    )


@dataclass(frozen=True)
class FrontTable:
    """The feasible front with the uncompressed baseline first; ``str()`` is the table."""

    rows: tuple[FrontRow, ...]  # the front, fastest first
    baseline: FrontRow | None
    error_names: tuple[str, ...]  # the task's errors, one column each

    def __str__(self) -> str:
        """Each row also relative to the baseline, with how many warnings each trial raised
        (``autocompress -v`` prints them as they come).

        Latency is the median with its interquartile spread; the speed-up, as stored, divides
        the baseline timed in turns with the trial (so a busier hour slows both alike), or, for
        trials stored without it, the baseline trial's latency. The errors are the selection
        items' (what the search chose on); once any point is scored on the test set, each
        error's test value follows, with its 95 % interval. The last lines say what is stored
        and what the test set is: ``pareto --retime`` times the front again."""
        reference = self.baseline
        shown = ([reference] if reference else []) + [r for r in self.rows if r != reference]
        tested = [row.test for row in shown if row.test is not None]
        test_names = self.error_names if tested else ()
        error_headers = "".join(f" {name:>{_width(name)}}" for name in self.error_names)
        error_headers += "".join(f" {'test ' + name:>{_TEST_WIDTH}}" for name in test_names)
        error_headers += "".join(f" {'paired ' + name:>{_PAIRED_WIDTH}}" for name in test_names)
        lines = [
            f"{'trial':>5}  {'latency ms':>10} {'spread':>7} {'speed-up':>8}  {'MiB':>7} "
            f"{'smaller':>7} {error_headers} {'warnings':>8}  pipeline"
        ]
        for row in shown:
            ratio = row.speedup or (reference.latency_ms / row.latency_ms if reference else None)
            speed = f"{ratio:.2f}x" if ratio else "-"
            smaller = f"{1 - row.size_mib / reference.size_mib:.0%}" if reference else "-"
            errors = "".join(
                f" {'-' if value is None else f'{value:.3f}':>{_width(name)}}"
                for name, value in row.errors.items()
            )
            errors += "".join(f" {test_cell(row.test, n):>{_TEST_WIDTH}}" for n in test_names)
            base_test = reference.test if reference and row is not reference else None
            errors += "".join(
                f" {paired_cell(row.test, base_test, n):>{_PAIRED_WIDTH}}" for n in test_names
            )
            marker = "" if row in self.rows else "  (not on the front)"
            lines.append(
                f"{row.number:>5}  {row.latency_ms:>10.1f} {row.latency_spread_ms:>7.1f} "
                f"{speed:>8}  {row.size_mib:>7.2f} {smaller:>7} {errors} {row.warnings:>8}  "
                f"{row.pipeline}{marker}"
            )
        if tested:
            items = sorted({test["items"] for test in tested})
            lines.append(
                f"test: {'/'.join(map(str, items))} held-out items the search never saw; "
                "± the half-width of a 95 % Student-t interval over them; paired: the point's "
                "error minus the uncompressed model's, item by item"
            )
        lines.append(
            "latencies and speed-ups as stored when each trial ran; `pareto --retime` times the "
            "front again, in turns with the baseline"
        )
        return "\n".join(lines)


def front_table(study: optuna.Study) -> FrontTable:
    """The front with a column for every error the task reports (RepNet: the fidelity it
    selects on, then the counts it reports beside it), as its baseline trial stored them."""
    base = baseline_trial(study)
    stored = TrialRecord.of(base).errors if base is not None else {}
    names = tuple(dict.fromkeys([*Feasibility.of(study).task_objectives, *stored]))
    tests = test_scores(study)
    return FrontTable(
        tuple(_row(t, names, tests.get(t.number)) for t in feasible_front(study)),
        _row(base, names, tests.get(base.number)) if base is not None else None,
        names,
    )


def format_front(study: optuna.Study) -> str:
    """The front as a table (see :class:`FrontTable`)."""
    return str(front_table(study))


def _width(name: str) -> int:
    return max(6, len(name))


_TEST_WIDTH = 11  # "0.123±0.045"
_PAIRED_WIDTH = 13  # "+0.123±0.045"


def plot_front(study: optuna.Study, png: Path) -> list[Path]:
    """Latency against the task's first error and against size, front highlighted (PNG),
    and Optuna's interactive Pareto plot (HTML next to it). Returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    is_feasible = Feasibility.of(study)
    feasible = [t for t in study.get_trials(deepcopy=False) if is_feasible(t)]
    front = {t.number for t in feasible_front(study)}
    error_names = is_feasible.task_objectives
    records = {t.number: TrialRecord.of(t) for t in feasible}
    panels = [(lambda r, n=name: r.errors.get(n), name) for name in error_names[:1]]
    panels.append((lambda r: r.size_mib, "size (MiB)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.5), squeeze=False)
    for ax, (read, label) in zip(axes[0], panels, strict=True):
        for on_front, style in ((False, {"c": "0.7", "s": 14}), (True, {"c": "C3", "s": 30})):
            points = [
                (record.latency_ms, read(record))
                for number, record in records.items()
                if (number in front) == on_front and read(record) is not None
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
    targets_names = [n for n in ("latency", *error_names) if n in names][:2]
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
