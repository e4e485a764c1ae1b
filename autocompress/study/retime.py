"""Timing trials again, beside the baseline, in turns.

Trials are timed over hours on a shared machine whose load drifts; a front read off their
stored latencies mixes quiet and busy hours. Re-timing rebuilds the trials and times them with
the baseline in turns, round after round (autocompress.evaluators.turns, as every trial is
timed), so the same load hits all of them, and gives each its ratio to the baseline of the
same rounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial

from autocompress.compression import FinetuneStep, Pipeline
from autocompress.study.context import SearchContext, compress
from autocompress.study.pareto import feasible_front
from autocompress.study.record import TrialRecord
from autocompress.timing import Timing

__all__ = ["Retimed", "format_retimed", "retime_front", "retime_trials", "timed_pipeline"]


@dataclass(frozen=True)
class Retimed:
    number: int
    stored_ms: float  # what the trial measured when it ran
    timing: Timing  # over the rounds
    baseline: Timing  # the baseline's over the same rounds

    @property
    def retimed_ms(self) -> float:
        return self.timing.median_ms

    @property
    def speedup(self) -> float:
        return self.baseline.median_ms / self.timing.median_ms

    def shown(self) -> str:
        """The median and half the interquartile range: ``11.2±0.4``."""
        return f"{self.retimed_ms:.1f}±{self.timing.spread_ms / 2:.1f}"


def timed_pipeline(trial: FrozenTrial) -> Pipeline:
    """The trial's pipeline as far as latency goes: a finetune step changes weights, not the
    architecture, so it is left out (minutes each on a CPU)."""
    steps = Pipeline.from_dict(TrialRecord.of(trial).pipeline).steps
    return Pipeline([step for step in steps if not isinstance(step, FinetuneStep)])


def retime_trials(
    trials: Sequence[FrozenTrial], context: SearchContext, rounds: int = 3
) -> list[Retimed]:
    """Each trial rebuilt and timed with the baseline in ``rounds`` turns of the study's timed
    runs each."""
    evaluator = context.evaluator
    samplers = {}
    for trial in trials:
        with evaluator.lock.shared():
            model, _ = compress(
                context.model,
                timed_pipeline(trial),
                context.calibration,
                context.config.accuracy_device,
            )
            data = evaluator.artifact(model)
        samplers[trial.number] = evaluator.sampler(data)
    samplers["baseline"] = evaluator.baseline_sampler
    timings = evaluator.in_turns(samplers, evaluator.protocol.runs * rounds, rounds)
    return [
        Retimed(t.number, TrialRecord.of(t).latency_ms, timings[t.number], timings["baseline"])
        for t in trials
    ]


def retime_front(study: optuna.Study, context: SearchContext, rounds: int = 3) -> list[Retimed]:
    return retime_trials(feasible_front(study), context, rounds)


def format_retimed(rows: list[Retimed], rounds: int) -> str:
    if not rows:
        return "no feasible trial to re-time"
    lines = [
        f"re-timed in turns with the baseline ({rounds} rounds; baseline now "
        f"{rows[0].baseline.median_ms:.1f} ms):",
        f"{'trial':>5}  {'stored ms':>9} {'now ms':>8} {'spread':>7} {'speed-up now':>12}",
    ]
    for row in rows:
        lines.append(
            f"{row.number:>5}  {row.stored_ms:>9.1f} {row.retimed_ms:>8.1f} "
            f"{row.timing.spread_ms:>7.1f} {row.speedup:>11.2f}x"
        )
    return "\n".join(lines)
