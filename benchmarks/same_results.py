"""Same results before and after a change that should not change them: two studies run with the
same definition by two versions of the code, compared trial by trial.

    python benchmarks/same_results.py BEFORE.db AFTER.db STUDY

Params, state, pipeline and task errors must be equal; the artifact's size may differ by a
few hundred bytes where TorchScript stores the qualified names of the model's classes (a
module that moved). Latency is measured, so it is not compared. Run both studies with a
sampler that does not read latencies (``--sampler random``) and without screening
(``data.screen_videos: null``), which stops trials by the front, whose latencies vary.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import optuna

SIZE_TOLERANCE_BYTES = 2048


def _trials(db: Path, study: str) -> dict[int, optuna.trial.FrozenTrial]:
    loaded = optuna.load_study(study_name=study, storage=f"sqlite:///{db}")
    return {trial.number: trial for trial in loaded.trials}


def _differences(before: optuna.trial.FrozenTrial, after: optuna.trial.FrozenTrial) -> list[str]:
    found = []
    if before.state != after.state:
        found.append(f"state {before.state.name} vs {after.state.name}")
    if before.params != after.params:
        found.append("params")
    if before.user_attrs.get("pipeline") != after.user_attrs.get("pipeline"):
        found.append("pipeline")
    old, new = before.values or [], after.values or []
    if old[2:] != new[2:]:  # latency, size, then the task's errors
        found.append(f"errors {old[2:]} vs {new[2:]}")
    if old and new and abs(old[1] - new[1]) * 2**20 > SIZE_TOLERANCE_BYTES:
        found.append(f"size {old[1]:.4f} vs {new[1]:.4f} MiB")
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("study")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    before, after = _trials(args.before, args.study), _trials(args.after, args.study)
    numbers = sorted(set(before) | set(after))
    differing = {
        n: _differences(before[n], after[n]) if n in before and n in after else ["missing"]
        for n in numbers
    }
    sizes = [
        abs(before[n].values[1] - after[n].values[1]) * 2**20
        for n in numbers
        if n in before and n in after and before[n].values and after[n].values
    ]
    for number, found in differing.items():
        if found:
            print(f"trial {number}: {', '.join(found)}")
    same = sum(not found for found in differing.values())
    print(
        f"{args.study}: {same} of {len(numbers)} trials the same (params, state, pipeline, "
        f"errors; size within {SIZE_TOLERANCE_BYTES} bytes, largest difference "
        f"{max(sizes, default=0):.0f} bytes)"
    )


if __name__ == "__main__":
    main()
