"""The fastest point, as timed now: a win within the timing noise is no win.

Stored latencies were taken hours apart, under whatever load each trial met; the fastest few
by stored latency are therefore timed again, in turns with the baseline
(autocompress.study.retime). When the fastest and the next lie within each other's spread
(median ± half the interquartile range), neither is faster: the more accurate of them is
picked, then the smaller, and the line says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from optuna.trial import FrozenTrial

from autocompress.study.context import SearchContext
from autocompress.study.record import TrialRecord
from autocompress.study.retime import Retimed, retime_trials

__all__ = ["CANDIDATES", "FastestPick", "fastest_of", "pick_fastest", "within_spread"]

CANDIDATES = 3  # the fastest by stored latency that are timed again
# What decides among tied trials, in order (of two trials, of more).
_ADJECTIVES = (("more accurate", "most accurate"), ("smaller", "smallest"), ("faster", "fastest"))


@dataclass(frozen=True)
class FastestPick:
    number: int
    line: str  # why this one, in one line


def within_spread(a: Retimed, b: Retimed) -> bool:
    """Whether the medians lie closer than the two half interquartile ranges together."""
    return abs(a.retimed_ms - b.retimed_ms) < (a.timing.spread_ms + b.timing.spread_ms) / 2


def _listed(numbers: Sequence[int]) -> str:
    return ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}"


def fastest_of(
    retimed: Sequence[Retimed], records: dict[int, TrialRecord], error: str | None
) -> FastestPick:
    """The fastest of ``retimed``; those within its spread tie, and of them the one with the
    lowest ``error`` wins, then the smallest (``records``: each trial's stored record)."""
    ordered = sorted(retimed, key=lambda r: r.retimed_ms)
    first = ordered[0]
    tied = [r for r in ordered if within_spread(first, r)]
    if len(tied) == 1:
        line = f"trial {first.number} is the fastest, timed again in turns with the baseline"
        if len(ordered) > 1:
            line += f" ({first.shown()} ms; next: trial {ordered[1].number}, "
            line += f"{ordered[1].shown()} ms)"
        return FastestPick(first.number, line)

    def error_of(row: Retimed) -> float:
        value = records[row.number].errors.get(error) if error else None
        return float("inf") if value is None else value

    def key(row: Retimed) -> tuple[float, float, float]:
        return error_of(row), records[row.number].size_mib, row.retimed_ms

    best, second = sorted(tied, key=key)[:2]
    differ = [x != y for x, y in zip(key(best), key(second), strict=True)]
    deciding = differ.index(True) if any(differ) else len(differ) - 1
    reason = _ADJECTIVES[deciding][len(tied) > 2]
    return FastestPick(
        best.number,
        f"trials {_listed([r.number for r in tied])} are within each other's timing spread "
        f"({' vs '.join(r.shown() for r in tied)} ms); exporting {best.number}, the "
        f"{reason}",
    )


def pick_fastest(
    front: Sequence[FrozenTrial],
    context: SearchContext,
    error: str | None,
    candidates: int = CANDIDATES,
) -> FastestPick:
    """The fastest of ``front`` (fastest first, as feasible_front) by :func:`fastest_of`,
    once its ``candidates`` fastest by stored latency are timed again."""
    chosen = list(front[:candidates])
    if len(chosen) == 1:
        return FastestPick(chosen[0].number, f"trial {chosen[0].number} is the only point")
    records = {t.number: TrialRecord.of(t) for t in chosen}
    return fastest_of(retime_trials(chosen, context), records, error)
