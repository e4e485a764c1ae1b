"""Selecting on signal: the search minimises fidelity (how far the outputs move from the
uncompressed model's), which needs no labels; RepNet's counting task reports it per video from
its own forward passes; a model given with no evaluation searches on it under a default cap;
and the export's fastest point is confirmed on the test set, paired, before it ships."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

import autocompress
from autocompress.cli import main
from autocompress.compression import Pipeline, PruneStep, apply_pipeline, prunable_groups
from autocompress.data.quva import QuvaDataset
from autocompress.evaluators.fidelity import FIDELITY_CAP, FidelityTask
from autocompress.models.repnet.adapter import CountingTask
from autocompress.models.repnet.counting import StrideOutputs
from autocompress.models.repnet.fidelity import frame_divergence
from autocompress.models.repnet.weights import load_model
from autocompress.study.confirm import verdict
from autocompress.study.record import TrialRecord

SETTINGS = {
    "sampler": "random",
    "warm_start": False,
    "latency": {"warmup": 1, "runs": 3},
    "space": {"orders": ["P", "Q"], "prune_ratio": [0.3, 0.7]},
}


def _convnet() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3), nn.ReLU(), nn.Conv2d(16, 16, 3), nn.ReLU(), nn.Flatten()
    ).eval()


def test_a_model_without_evaluation_searches_on_fidelity_under_the_default_cap(tmp_path):
    inputs = torch.randn(16, 3, 12, 12)
    result = autocompress.search(
        _convnet(), inputs, trials=8, run_dir=tmp_path, settings=SETTINGS, progress=False
    )
    assert result.config.objectives == ("latency", "size", "fidelity")
    assert result.config.max_error_increase == {"fidelity": FIDELITY_CAP}
    fidelity = {t.number: TrialRecord.of(t).errors["fidelity"] for t in result.study.trials}
    assert fidelity[0] == 0.0  # the baseline: its own outputs

    def read(kind: str) -> list[float]:
        pipelines = {t.number: str(TrialRecord.of(t).pipeline) for t in result.study.trials}
        return [value for n, value in fidelity.items() if value and kind in pipelines[n]]

    assert read("prune") and read("quantize")
    assert min(read("prune")) > 10 * max(read("quantize")) > 0  # int8 moves them far less
    export = autocompress.export(result, "fastest", tmp_path / "out")
    assert fidelity[export.number] <= FIDELITY_CAP


def test_a_model_named_without_a_task_says_it_searches_on_fidelity(tmp_path, monkeypatch, capsys):
    (tmp_path / "label_free_model.py").write_text(
        "import torch\nfrom torch import nn\n\n"
        "def make():\n"
        "    torch.manual_seed(0)\n"
        "    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4)).eval()\n"
    )
    (tmp_path / "study.yaml").write_text("sampler: random\nwarm_start: false\n")
    monkeypatch.chdir(tmp_path)
    argv = [
        "search", "--study", "free", "--run-dir", str(tmp_path / "runs"), "--config",
        "study.yaml", "--model", "label_free_model:make", "--input-shape", "1,8",
        "--trials", "3", "--no-progress",
    ]  # fmt: skip
    assert main(argv) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "objectives latency, size, fidelity" in first
    assert f"error caps fidelity +{FIDELITY_CAP:g}" in first


def test_fidelity_task_reads_zero_for_the_model_and_more_when_pruned():
    model, inputs = _convnet(), torch.randn(10, 3, 12, 12)
    task = FidelityTask(copy.deepcopy(model), (inputs,), batch=4)
    assert task.item_count() == 10
    same = task.item_errors(model, 0, 10)
    assert same.shape == (10, 1) and np.abs(same).max() == 0.0
    halved = Pipeline([PruneStep(dict.fromkeys(prunable_groups(model), 0.5))])
    pruned, _ = apply_pipeline(model, halved, inputs[:2])
    assert task.item_errors(pruned, 2, 7).min() > 0


def _outputs(periodicity: float, period_shift: float) -> StrideOutputs:
    logits = np.zeros((5, 8))
    logits[:, 3] = 4.0
    logits[:, 4] = period_shift
    return StrideOutputs(logits, np.full(5, periodicity))


def test_period_changes_count_only_where_the_frames_repeat():
    """Counting ignores the period of a frame the reference calls non-periodic; so does
    fidelity. A moved periodicity reads wherever it is."""
    for gate, expected_small in ((-8.0, True), (8.0, False)):
        moved = frame_divergence(_outputs(gate, 0.0), _outputs(gate, 4.0)).mean()
        assert (moved < 0.01) == expected_small, (gate, moved)
    assert frame_divergence(_outputs(8.0, 0.0), _outputs(-8.0, 0.0)).min() > 1.0


@pytest.fixture(scope="module")
def repnet():
    return load_model("repnet-s")[0].eval()


def test_counting_task_reports_fidelity_beside_the_counts(tiny_set, repnet):
    """Every video: fidelity 0 for the uncompressed model itself, more for a pruned one."""
    dataset = QuvaDataset(tiny_set, verify=repnet.config.image_size)
    task = CountingTask(dataset, repnet.config.image_size, reference=repnet)
    assert task.objectives == ("fidelity", "mae", "obo")
    itself = task.item_errors(copy.deepcopy(repnet), 0, 3)
    assert itself.shape == (3, 3) and np.abs(itself[:, 0]).max() < 1e-9
    pruning = Pipeline([PruneStep(dict.fromkeys(prunable_groups(repnet), 0.4))])
    pruned, _ = apply_pipeline(repnet, pruning, torch.randn(1, *repnet.config.input_shape))
    assert task.item_errors(pruned, 0, 3)[:, 0].min() > itself[:, 0].max() + 0.01
    without = CountingTask(dataset, repnet.config.image_size)
    assert without.objectives == ("mae", "obo")
    np.testing.assert_array_equal(without.item_errors(repnet, 0, 3), itself[:, 1:])


def _scores(rows: list[list[float]]) -> dict:
    errors = np.asarray(rows)
    return {
        "items": len(rows),
        "errors": {"mae": float(errors[:, 0].mean())},
        "item_errors": rows,
    }


def test_a_point_is_within_a_test_cap_only_when_the_interval_is_narrower():
    reference = _scores([[0.1], [0.2], [0.3], [0.1]] * 10)
    close = _scores([[0.11], [0.2], [0.31], [0.1]] * 10)
    assert verdict(1, close, reference, {"mae": 0.03}).within
    over = _scores([[0.2], [0.3], [0.4], [0.2]] * 10)
    found = verdict(2, over, reference, {"mae": 0.03})
    assert not found.within and "over +0.03" in found.reading
    few = _scores([[0.1], [0.2], [0.3], [0.1]])
    noisy = _scores([[0.3], [0.0], [0.4], [0.05]])  # +0.0125 on average, swinging ±0.2
    found = verdict(3, noisy, few, {"mae": 0.03})
    assert not found.within and "cannot tell" in found.reading


class _Embedder(nn.Module):
    """Returns its hidden features beside its scores, as an encoder returns its states."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.hidden = nn.Linear(8, 16)
        self.scores = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = torch.relu(self.hidden(x))
        return hidden, self.scores(hidden)


def test_a_pruning_that_narrows_an_output_is_left_out_of_a_label_free_search(tmp_path):
    """Its model is no drop-in replacement, and its outputs cannot be compared."""
    settings = {**SETTINGS, "space": {"orders": ["P"]}}
    result = autocompress.search(
        _Embedder().eval(), torch.randn(8, 8), trials=2, run_dir=tmp_path, settings=settings,
        progress=False,
    )  # fmt: skip
    left_out = result.study.user_attrs["left_out"]
    assert "changes the outputs' shapes ([(1, 16), (1, 3)] -> [(1, " in left_out
