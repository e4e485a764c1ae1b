"""A space built from what the model offers (spaces/dry_run.py), pipelines sampled from it
that the pipeline check accepts, and CP's caps (compression/tensorize)."""

from __future__ import annotations

import optuna
import pytest
import torch
from torch import nn

import autocompress
from autocompress.compression import Pipeline, PipelineError, PruneStep, TensorizeStep, apply
from autocompress.compression.tensorize import factorize
from autocompress.compression.tensorize.transform import resolve_rank
from autocompress.spaces.catalog import LayerCatalog
from autocompress.spaces.config import DEFAULT_ORDERS, SpaceConfig
from autocompress.spaces.dry_run import dry_run, summary
from autocompress.spaces.pipeline_space import suggest_pipeline


class Spotter(nn.Module):
    """A keyword spotter nobody here wrote: Conv1d features, self-attention, a classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.front = nn.Sequential(
            nn.Conv1d(8, 16, 3, padding=1),
            nn.BatchNorm1d(16),
            nn.ReLU(),
            nn.Conv1d(16, 16, 3, padding="same"),  # CP cannot split 'same' padding per axis
        )
        self.attention = nn.MultiheadAttention(16, 2, batch_first=True)
        self.head = nn.Linear(16, 4)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        tokens = self.front(audio).transpose(1, 2)
        attended, _ = self.attention(tokens, tokens, tokens, need_weights=False)
        return self.head(attended.mean(1))


def _spotter() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    return Spotter().eval(), torch.randn(8, 8, 20)


def test_what_cannot_take_its_step_is_left_out_with_its_reason():
    model, audio = _spotter()
    space = SpaceConfig()
    catalog = LayerCatalog.of(model, space, {}, calibration=audio)
    assert "front.3" in catalog.prune_groups  # offered by the model's modules...
    left_out = dry_run(model, catalog, (audio,), space)
    reasons = {(item.step, item.name): item.reason for item in left_out}
    assert "MultiheadAttention embed_dim" in reasons["prune", "front.3"]  # ...but tied
    assert "padding" in reasons["cp", "front.3"]
    assert ("prune", "front.0") not in reasons and ("tucker", "front.3") not in reasons
    narrowed = catalog.without(left_out)
    assert narrowed.prune_groups == ("front.0",)
    assert ("front.3", "cp") not in narrowed.factors and "front.3" in narrowed.decomposable
    assert narrowed.left_out == left_out
    assert "prune group front.3 (cannot prune group" in summary(left_out)


def test_a_study_on_the_spotter_completes_every_trial(tmp_path):
    model, audio = _spotter()
    result = autocompress.search(
        model,
        audio,
        trials=10,
        run_dir=tmp_path,
        settings={"sampler": "random", "latency": {"warmup": 1, "runs": 3}},
        progress=False,
    )
    trials = result.study.get_trials(deepcopy=False)
    failed = {t.number: t.user_attrs for t in trials if t.state != optuna.trial.TrialState.COMPLETE}
    assert len(trials) == 10 and not failed
    assert "front.3" in result.study.user_attrs["left_out"]  # stored for resumes and workers


def _per_layer_model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 6 * 6, 10),
    ).eval()


@pytest.mark.parametrize("layout", ["compact", "per_layer"])
@pytest.mark.parametrize("which", ["per_layer_groups", "repnet"])
def test_every_sampled_pipeline_passes_the_pipeline_check(which, layout, random_repnet_s):
    model = random_repnet_s if which == "repnet" else _per_layer_model()
    space = SpaceConfig(layout=layout)
    catalog = LayerCatalog.of(model, space, {})
    sampler = optuna.samplers.RandomSampler(seed=0)
    study = optuna.create_study(sampler=sampler)
    orders = {order: 0 for order in DEFAULT_ORDERS}
    for _ in range(150):
        trial = study.ask()
        pipeline = suggest_pipeline(trial, catalog, space)
        if pipeline.steps:
            pipeline.validate(model)  # raises PipelineError on a name an earlier step replaced
        orders[trial.params["order"]] += 1
        study.tell(trial, 0.0)
    assert min(orders.values()) >= 5  # every default order was sampled


def test_a_tensorize_then_prune_pipeline_prunes_the_last_factor_of_a_per_layer_group():
    model = _per_layer_model()
    space = SpaceConfig(orders=("TP",), layout="per_layer")
    catalog = LayerCatalog.of(model, space, {})
    params = {"order": "TP", "tensorize.method": "tucker", "tensorize.0": "fraction"}
    params |= {"rank.0": 0.5, "tensorize.2": "skip", "tensorize.5": "skip"}
    params |= {"prune.0": 0.5, "prune.2": 0.25}
    pipeline = suggest_pipeline(optuna.trial.FixedTrial(params), catalog, space)
    assert pipeline.steps[1].ratios == {"0.2": 0.5, "2": 0.25}
    pipeline.validate(model)


def test_cp_on_a_large_layer_is_refused_in_one_line_before_it_runs():
    conv = nn.Sequential(nn.Conv2d(256, 256, 3, padding=1))
    step = TensorizeStep({"0": 0.7}, method="cp")  # rank 180: minutes of ALS
    assert factorize.cp_seconds((256, 256, 3, 3), 180) > factorize.CP_TIME_CAP_S
    with pytest.raises(PipelineError, match=r"CP of 0 at rank 180 would take about \d+ s") as e:
        apply(conv, step)
    assert "\n" not in str(e.value) and isinstance(conv[0], nn.Conv2d)  # nothing replaced
    assert "use tucker or a rank of at most" in str(e.value)
    apply(conv, TensorizeStep({"0": 8}, method="cp"))  # a small rank fits the cap
    assert isinstance(conv[0], nn.Sequential)


def test_cp_rank_is_capped_at_the_largest_rank_the_shape_needs():
    conv = nn.Sequential(nn.Conv2d(4, 4, 3))  # 144 weights, widest unfolding rank 36
    report = apply(conv, TensorizeStep({"0": 50}, method="cp"))
    assert report.layers[0].rank == (factorize.cp_rank_cap((4, 4, 3, 3)),) == (36,)


def test_pipeline_check_still_refuses_the_unrenamed_group():
    model = _per_layer_model()
    pipeline = Pipeline([TensorizeStep({"0": 0.5}), PruneStep({"0": 0.5})])
    with pytest.raises(PipelineError, match="factorised by an earlier tensorize step"):
        pipeline.validate(model)


def _capped_conv_model() -> nn.Module:
    """Tall, narrow kernels (a pitch tracker's): CP's time cap binds far under rank 0.7."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 64, (32, 1), padding=(16, 0)), nn.ReLU(), nn.Conv2d(64, 128, (16, 1))
    ).eval()


@pytest.mark.parametrize("layout", ["compact", "per_layer"])
def test_the_space_samples_only_cp_steps_within_the_time_cap(monkeypatch, layout):
    model = _capped_conv_model()
    cap = factorize.cp_seconds((128, 64, 16, 1), 20)  # rank 20 of the second conv, alone
    monkeypatch.setattr(factorize, "CP_TIME_CAP_S", cap)
    space = SpaceConfig(orders=("T",), tensorize_methods=("cp",), layout=layout)
    catalog = LayerCatalog.of(model, space, {})
    assert set(catalog.cp_layers) == {name for name, method in catalog.factors}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    alone = []
    for _ in range(40):
        trial = study.ask()
        (step,) = suggest_pipeline(trial, catalog, space).steps or (None,)
        seconds = 0.0
        for layer, rank in (step.ranks if step else {}).items():
            module = model.get_submodule(layer)
            (resolved,) = resolve_rank(module, rank, "cp")
            seconds += factorize.cp_seconds(tuple(module.weight.shape), resolved)
            if step.ranks.keys() == {"2"}:
                alone.append(resolved)
        assert seconds <= cap * (1 + 1e-9)  # the whole step within the cap
        study.tell(trial, 0.0)
    assert 20 in alone  # the cap bounds the samples, it does not leave the layer out
    apply(model, TensorizeStep({"2": 20}, method="cp"))  # the step takes it
    twins = nn.Sequential(nn.Conv2d(64, 128, (16, 1)), nn.ReLU(), nn.Conv2d(128, 64, (16, 1)))
    with pytest.raises(PipelineError, match=r"CP of 2 layers would take about \d+ s together"):
        apply(twins, TensorizeStep({"0": 20, "2": 20}, method="cp"))  # each alone would fit


def test_a_factorisation_whose_cap_leaves_no_sampled_rank_is_left_out(monkeypatch):
    monkeypatch.setattr(factorize, "CP_TIME_CAP_S", 1e-6)
    model = _capped_conv_model()
    space = SpaceConfig(orders=("T",))
    catalog = LayerCatalog.of(model, space, {})
    left_out = dry_run(model, catalog, (torch.randn(2, 1, 64, 4),), space)
    slow = {item.name for item in left_out if item.step == "cp"}
    assert "2" in slow and slow == {layer for layer, method in catalog.factors if method == "cp"}
    assert all("would take over 0 s" in item.reason for item in left_out if item.step == "cp")
    assert not [item for item in left_out if item.step == "tucker"]  # tucker has no time cap


def test_cp_speed_is_timed_once_per_machine_and_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOCOMPRESS_CACHE", str(tmp_path))
    factorize.cp_speed.cache_clear()
    try:
        speed = factorize.cp_speed()
        assert 0.01 < speed < 100 and (tmp_path / "cp_speed.json").exists()
        factorize.cp_speed.cache_clear()
        monkeypatch.setattr(factorize, "_time_reference_cp", lambda: pytest.fail("timed again"))
        assert factorize.cp_speed() == speed  # another process reads the machine's speed
    finally:
        factorize.cp_speed.cache_clear()
