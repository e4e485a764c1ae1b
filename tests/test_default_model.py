"""The shipped repnet-s: it loads by default and counts held-out repetitions roughly right,
which a randomly initialised model of the same shape does not."""

import pytest

from autocompress.data.quva import QuvaDataset
from autocompress.data.synthetic import SynthStyle, generate_dataset
from autocompress.models.repnet.network import PRESETS, RepNet
from autocompress.models.repnet.quva_accuracy import evaluate_counts
from autocompress.models.repnet.weights import load_model, shipped_weights

# Loose on purpose: a handful of videos is a noisy sample. The model card has the real numbers.
MAX_MAE = 0.35


@pytest.fixture(scope="module")
def held_out(tmp_path_factory) -> QuvaDataset:
    folder = tmp_path_factory.mktemp("held-out")
    style = SynthStyle(frames=(64, 160))
    generate_dataset(folder, 8, seed=4242, style=style)
    return QuvaDataset(folder, cache=False)


def test_shipped_weights_load_by_default():
    assert shipped_weights("repnet-s") is not None
    model, source = load_model("repnet-s")
    assert source == str(shipped_weights("repnet-s"))
    assert model.config == PRESETS["repnet-s"]
    assert shipped_weights("repnet-s").stat().st_size < 8 * 2**20


def test_shipped_model_counts_held_out_videos(held_out):
    model, _ = load_model("repnet-s")
    report = evaluate_counts(model, held_out, progress=False)
    assert report.n_videos == 8
    assert report.mae <= MAX_MAE, report.videos


def test_random_model_fails_the_same_bound(held_out):
    report = evaluate_counts(RepNet(PRESETS["repnet-s"]), held_out, progress=False)
    assert report.mae > MAX_MAE
