"""Confirming a point on the test set before it ships as within the caps.

The search keeps its own caps on what it measures on every trial (RepNet's: fidelity), cheap
and free of labels. The errors a user cares about (RepNet's counts) are checked once, after the
search, on the test set: each candidate and the uncompressed model scored on the same items,
and the point called within a cap only when the mean of the paired differences is at most the
cap *and* their 95 % interval is narrower than the cap. Where it is wider, the test set cannot
tell a point within the cap from one over it, and the point is not called within (a larger
test set can: ``data.test_videos``). Candidates are taken fastest first, so only the few that
could be exported are counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial

from autocompress.study.config import Cap, allowed_increase, cap_text
from autocompress.study.context import SearchContext
from autocompress.study.pareto import feasible_front, paired_difference
from autocompress.study.record import baseline_trial
from autocompress.study.storage import stored_config
from autocompress.study.test_set import test_score

__all__ = ["Verdict", "confirmed_front", "test_caps", "verdict"]


@dataclass(frozen=True)
class Verdict:
    number: int
    within: bool
    reading: str  # each cap's paired difference and what it says, in one line


def test_caps(study: optuna.Study) -> dict[str, Cap]:
    """The caps a point must keep on the test set (the study's ``max_test_increase``)."""
    return dict((stored_config(study) or {}).get("max_test_increase") or {})


def verdict(number: int, test: dict, reference: dict, caps: Mapping[str, Cap]) -> Verdict:
    """Whether trial ``number``'s test scores ``test`` keep every cap against the uncompressed
    model's ``reference`` on the same items (module notes)."""
    within, parts = True, []
    for name, cap in caps.items():
        allowed = allowed_increase(cap, reference["errors"][name])
        paired = paired_difference(test, reference, name)
        if paired is None:
            within = False
            parts.append(f"{name}: no per-item test errors to pair")
            continue
        mean, half = paired
        shown = f"{name} {mean:+.3f}" + ("" if half is None else f"±{half:.3f}")
        if mean > allowed:
            within = False
            parts.append(f"{shown} over {cap_text(cap)}")
        elif half is not None and half > 0 and allowed <= half:
            within = False
            parts.append(f"{shown}: the interval is wider than {cap_text(cap)}, cannot tell")
        else:
            parts.append(f"{shown} within {cap_text(cap)}")
    return Verdict(number, within, f"trial {number}: {'; '.join(parts)}")


def confirmed_front(
    study: optuna.Study, context: SearchContext, wanted: int
) -> tuple[list[FrozenTrial], list[Verdict]]:
    """The fastest ``wanted`` points of the feasible front that keep the study's test caps
    (fastest first; counted on the test set as needed), and the verdict on every point
    counted to find them."""
    caps = test_caps(study)
    baseline = baseline_trial(study)
    reference = None if baseline is None else test_score(study, context, baseline)
    if not caps or reference is None:
        return feasible_front(study)[:wanted], []
    kept, verdicts = [], []
    for trial in feasible_front(study):
        found = verdict(trial.number, test_score(study, context, trial), reference, caps)
        verdicts.append(found)
        if found.within:
            kept.append(trial)
            if len(kept) == wanted:
                break
    return kept, verdicts
