"""Timing the Pareto front again, beside the baseline, in turns.

Trials are timed over hours on a shared machine whose load drifts; a front read off their
stored latencies mixes quiet and busy hours. Re-timing rebuilds every front point and the
baseline and times them in turns, round after round, so the same load hits all of them, and
gives each its ratio to the baseline of the same rounds.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import optuna

from autocompress.compression import Pipeline
from autocompress.study.context import SearchContext, compress
from autocompress.study.pareto import feasible_front
from autocompress.study.record import TrialRecord

__all__ = ["Retimed", "format_retimed", "retime_front"]


@dataclass(frozen=True)
class Retimed:
    number: int
    stored_ms: float  # what the trial measured when it ran
    retimed_ms: float  # median over the rounds
    baseline_ms: float  # the baseline's median over the same rounds

    @property
    def speedup(self) -> float:
        return self.baseline_ms / self.retimed_ms


def retime_front(study: optuna.Study, context: SearchContext, rounds: int = 3) -> list[Retimed]:
    evaluator = context.evaluator
    artifacts = {"baseline": evaluator.artifact(context.model)}
    front = feasible_front(study)
    for trial in front:
        pipeline = Pipeline.from_dict(TrialRecord.of(trial).pipeline)
        model, _ = compress(
            context.model, pipeline, context.calibration, context.config.accuracy_device
        )
        artifacts[trial.number] = evaluator.artifact(model)
    samples: dict[object, list[float]] = {key: [] for key in artifacts}
    for _ in range(rounds):
        for key, data in artifacts.items():
            samples[key].append(evaluator.latency(data).median_ms)
    baseline = statistics.median(samples["baseline"])
    return [
        Retimed(
            t.number,
            TrialRecord.of(t).latency_ms,
            statistics.median(samples[t.number]),
            baseline,
        )
        for t in front
    ]


def format_retimed(rows: list[Retimed], rounds: int) -> str:
    if not rows:
        return "no feasible trial to re-time"
    lines = [
        f"re-timed in turns with the baseline ({rounds} rounds; baseline now "
        f"{rows[0].baseline_ms:.1f} ms):",
        f"{'trial':>5}  {'stored ms':>9} {'now ms':>8} {'speed-up now':>12}",
    ]
    for row in rows:
        lines.append(
            f"{row.number:>5}  {row.stored_ms:>9.1f} {row.retimed_ms:>8.1f} {row.speedup:>11.2f}x"
        )
    return "\n".join(lines)
