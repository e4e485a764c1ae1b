"""Counting procedures compared on the same model outputs: the official demo, each refinement
alone, both (the default), and a perfect stride choice (an oracle that sees the truth).

    .venv/bin/python benchmarks/counting.py --out benchmarks/counting.md

The model runs once per video; every procedure counts from the same per-stride outputs, so the
differences are the procedures' alone. Seed 3000 is the set the refinements were tuned on,
seed 5000 a held-out one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from report import header, weights_line

from autocompress.data.quva import QuvaDataset
from autocompress.data.synthetic import generate_dataset
from autocompress.models.repnet.counting import CountingConfig, count_from_outputs, stride_outputs
from autocompress.models.repnet.quva_accuracy import mae_obo
from autocompress.models.repnet.weights import load_model

PROCEDURES = {
    "official demo": CountingConfig.official(),
    "alias guard only": CountingConfig(period_window=0),
    "sub-class periods only": CountingConfig(alias_guard=False),
    "both (the default)": CountingConfig(),
}
ORACLE = "oracle stride (sees the truth)"


def score_set(model, dataset: QuvaDataset) -> dict[str, tuple[float, float]]:
    """MAE and OBO of every procedure, and of the best single stride per video."""
    strides = CountingConfig().strides
    true, counts = [], {name: [] for name in [*PROCEDURES, ORACLE]}
    for item in dataset:
        video = dataset.frames(item, model.config.image_size)
        outputs = stride_outputs(model, video, strides)
        frames = video.shape[0]
        true.append(item.count)
        for name, config in PROCEDURES.items():
            counts[name].append(round(count_from_outputs(outputs, frames, config).count))
        per_stride = [
            round(count_from_outputs({s: outputs[s]}, frames, CountingConfig()).count)
            for s in strides
        ]
        counts[ORACLE].append(min(per_stride, key=lambda c: abs(c - item.count)))
        print(item.name, file=sys.stderr, flush=True)
    return {name: mae_obo(true, predicted) for name, predicted in counts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=100)
    parser.add_argument("--seeds", nargs="+", type=int, default=[3000, 5000])
    parser.add_argument("--weights", help="repnet-s weights (default: the shipped ones)")
    parser.add_argument("--data-dir", type=Path, default=Path("runs/benchmarks"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    model, _ = load_model("repnet-s", args.weights)
    scores = {}
    for seed in args.seeds:
        folder = args.data_dir / f"videos-{args.videos}-seed{seed}"
        if not (folder / "annotations").is_dir():
            generate_dataset(folder, args.videos, seed=seed, overwrite=True)
        scores[seed] = score_set(model, QuvaDataset(folder))

    columns = " | ".join(f"seed {seed}: MAE | OBO" for seed in args.seeds)
    lines = [
        *header("Counting procedures on the same model outputs"),
        "",
        f"Model: repnet-s, weights {weights_line('repnet-s', args.weights)}. Videos: "
        f"{args.videos} synthetic videos per seed in the default look (160x120, 25 fps, periods "
        "3-96 frames), strides 1-4. The aliasing was first noticed on 40 videos of seed 5000; "
        "the refinements' settings (guard threshold, period window) were then chosen on seed "
        "3000 alone. The oracle picks, per video, the stride whose count is closest to the "
        "truth: the bound of any stride-selection rule.",
        "",
        f"| procedure | {columns} |",
        "|---|" + "---:|---:|" * len(args.seeds),
    ]
    for name in [*PROCEDURES, ORACLE]:
        cells = " | ".join(f"{scores[s][name][0]:.3f} | {scores[s][name][1]:.2f}" for s in scores)
        lines.append(f"| {name} | {cells} |")
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
