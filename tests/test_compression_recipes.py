"""The case study's hand-tuned recipe: its settings, chained sizing, and an exact replay."""

import pytest
import torch

from autocompress.compression import PruneStep, QuantizeStep, TensorizeStep, apply_pipeline
from autocompress.compression.calibration import random_clips
from autocompress.models.repnet.network import build_repnet
from autocompress.models.repnet.recipe import CaseStudyRecipe, apply_recipe


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOCOMPRESS_CACHE", str(tmp_path / "cache"))


def test_prune_tensorize_quantize_recipe_replays_exactly():
    torch.manual_seed(0)
    model = build_repnet("repnet-s").eval()
    clips = random_clips(model, 1)
    compressed, pipeline, reports = apply_recipe(model, "PTQ", clips)

    prune, tensorize, quantize = pipeline.steps
    assert isinstance(prune, PruneStep) and prune.ratios["temporal_conv"] == 0.64
    assert {r for g, r in prune.ratios.items() if g.startswith("encoder")} == {0.35}
    assert isinstance(tensorize, TensorizeStep) and isinstance(quantize, QuantizeStep)
    assert tensorize.ranks["temporal_conv.conv"] == CaseStudyRecipe().temporal_rank
    assert quantize.layers and len(reports) == 3
    # The SQNR selection was made on the pruned, tensorized model, so replaying the pipeline
    # on the original rebuilds the same model.
    replayed, _ = apply_pipeline(model, pipeline, clips)
    with torch.no_grad():
        for got, want in zip(replayed.eval()(clips), compressed(clips), strict=True):
            torch.testing.assert_close(got, want)


def test_unknown_order_letter_is_refused():
    with pytest.raises(ValueError, match="P, T and Q"):
        apply_recipe(build_repnet("repnet-s"), "PX", torch.zeros(1))
