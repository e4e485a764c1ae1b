"""Error caps: a study whose task reports errors and names no cap gets one relative to the
uncompressed model (so `fastest` never ships a broken model), caps may be shares of the
uncompressed error, and an export says what accuracy its point gives up."""

import json

import pytest
import torch
from torch import nn

import autocompress
from autocompress.cli.options import _error_limits
from autocompress.errors import UserError
from autocompress.study.config import allowed_increase
from autocompress.study.feasibility import Feasibility
from autocompress.study.study_files import study_config_from_dict

torch.manual_seed(0)
INPUTS = torch.randn(8, 3, 16, 16)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3), nn.ReLU(), nn.Conv2d(16, 16, 3), nn.ReLU(), nn.Flatten()
    ).eval()


REFERENCE = _model()(INPUTS).detach()


def _drift(model: nn.Module) -> float:
    """A regression error of the scale of the issue's: 0.001 uncompressed, far more pruned."""
    with torch.no_grad():
        return 0.001 + float((model(INPUTS) - REFERENCE).square().mean())


def test_a_study_with_errors_and_no_cap_exports_no_point_over_the_default_cap(tmp_path):
    result = autocompress.search(
        _model(),
        INPUTS,
        evaluate=_drift,
        objectives=["error"],
        trials=8,
        run_dir=tmp_path,
        settings={
            "sampler": "random",
            "warm_start": False,
            "latency": {"warmup": 1, "runs": 3},
            "space": {"orders": ["P"], "prune_ratio": [0.3, 0.6]},
        },
        progress=False,
    )
    assert result.config.max_error_increase == {"error": "10%"}
    errors = [t.user_attrs.get("error") for t in result.study.trials]
    baseline = errors[0]
    assert any(e is not None and e > 1.1 * baseline for e in errors)  # a broken point exists
    export = autocompress.export(result, "fastest", tmp_path / "out")
    chosen = result.study.trials[export.number].user_attrs["error"]
    assert chosen <= baseline * 1.1 + 1e-12
    assert export.given_up and export.given_up.startswith("against the uncompressed model")
    assert f"error {chosen:.4g} vs {baseline:.4g}" in str(export)
    assert json.loads(export.metrics_file.read_text())["given_up"] == export.given_up


def test_no_caps_stays_possible_and_a_share_is_of_the_uncompressed_error():
    config = study_config_from_dict({"max_error_increase": {}})
    assert config.max_error_increase == {}
    config = study_config_from_dict({"max_error_increase": {"mae": "10%", "obo": 0.1}})
    feasibility = Feasibility(
        max_error_increase=config.max_error_increase, baseline_errors={"mae": 0.2, "obo": 0.25}
    )
    within = feasibility.constraints(latency_ms=1.0, errors={"mae": 0.219, "obo": 0.35})
    over = feasibility.constraints(latency_ms=1.0, errors={"mae": 0.221, "obo": 0.35})
    assert within["mae_over_limit"] <= 0 < over["mae_over_limit"]
    assert allowed_increase("10%", -0.5) == pytest.approx(0.05)


@pytest.mark.parametrize("cap", ["ten%", "-5%", "5", -0.1])
def test_a_bad_cap_is_refused_in_one_line(cap):
    with pytest.raises(UserError, match=r"max_error_increase\.mae") as caught:
        study_config_from_dict({"max_error_increase": {"mae": cap}})
    assert "\n" not in str(caught.value)


def test_the_command_line_takes_a_share():
    assert _error_limits("mae=10%,obo=0.1") == {"mae": "10%", "obo": 0.1}
