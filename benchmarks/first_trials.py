"""The default study's first trials as JSON (parameters, pipeline, size, MAE, OBO, latency):
run from two commits to show a refactor leaves the search's results as they were.

    .venv/bin/python benchmarks/first_trials.py --trials 10 --out /tmp/after.json
    PYTHONPATH=/path/to/old/worktree .venv/bin/python benchmarks/first_trials.py ...

Each run generates its evaluation videos in a temporary run directory (the same bytes for the
same seed) and runs a fresh study with the default seed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from autocompress.study.runner import run_search
from autocompress.study.study_files import resolve_study_config

KEYS = ("pipeline", "size_mib", "mae", "obo", "latency_ms", "screened")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    config = resolve_study_config("default", None, {"trials": args.trials})
    with tempfile.TemporaryDirectory() as folder:
        study = run_search(config, None, Path(folder), progress=False).study
        rows = [
            {"number": t.number, "params": t.params, **{k: t.user_attrs.get(k) for k in KEYS}}
            for t in study.trials
        ]
    args.out.write_text(json.dumps(rows, indent=1))
    print(f"wrote {len(rows)} trials to {args.out}")


if __name__ == "__main__":
    main()
