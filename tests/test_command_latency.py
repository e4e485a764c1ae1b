"""A device in the loop: the latency of an artifact measured by a command, here the shipped
local runner in its own process; a failing command fails its trial, not the study."""

import dataclasses
import sys
from pathlib import Path

import pytest
import torch
from optuna.trial import TrialState
from test_search import tiny_config
from torch import nn

from autocompress.backends import ARTIFACT_FORMATS
from autocompress.backends.command_latency import CommandTimer, LatencyCommandFailed
from autocompress.errors import UserError
from autocompress.study.config import LatencyConfig
from autocompress.study.runner import run_search
from autocompress.timing import TimingProtocol

RUNNER = (
    f"{sys.executable} -m autocompress.backends.local_runner {{artifact}} "
    "--warmup {warmup} --runs {runs} --threads 1 --input-shape {input_shape}"
)
PROTOCOL = TimingProtocol(warmup=1, runs=4, threads=1)


@pytest.fixture(scope="module")
def artifact() -> tuple[bytes, tuple[torch.Tensor, ...]]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU()).eval()
    example = (torch.randn(1, 3, 16, 16),)
    return ARTIFACT_FORMATS["torchscript"].serialize(model, example), example


def test_the_local_runner_times_a_real_artifact(artifact):
    data, example = artifact
    timing = CommandTimer(RUNNER)(data, ".pt", PROTOCOL, example)
    assert timing.runs == 4 and 0 < timing.min_ms <= timing.median_ms


def test_units_are_converted_to_milliseconds(artifact):
    data, example = artifact
    timer = CommandTimer("echo 'per iter: 2500' # {artifact}", r"per iter: ([0-9]+)", "us")
    assert timer(data, ".pt", PROTOCOL, example).median_ms == 2.5


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("echo 'device offline' >&2; exit 3 # {artifact}", "exited 3: device offline"),
        ("echo 'it ran' # {artifact}", "printed nothing matching"),
        (RUNNER.replace("{artifact}", "missing.pt") + " # {artifact}", "not found: missing.pt"),
    ],
)
def test_a_failing_command_says_what_the_device_said(artifact, command, message):
    data, example = artifact
    with pytest.raises(LatencyCommandFailed, match=message):
        CommandTimer(command)(data, ".pt", PROTOCOL, example)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"command": "time-it model.pt"}, "must contain {artifact}"),
        ({"command": RUNNER, "pattern": "(unclosed"}, "not a regular expression"),
        ({"command": RUNNER, "pattern": "(a)(b)"}, "exactly one group"),
        ({"command": RUNNER, "unit": "minutes"}, "latency.unit"),
    ],
)
def test_a_bad_command_setting_is_refused_when_the_study_is_read(changes, message):
    with pytest.raises(UserError, match=message):
        LatencyConfig(**changes)


def test_a_failing_command_fails_its_trial_not_the_study(tiny_set, tmp_path):
    # Each trial runs the command 6 times: its artifact and the baseline's (timed by the
    # command too), in turns, 3 rounds of one run. The device fails on the 7th call only, the
    # first of trial 1: the trials around the failing one are measured.
    calls = tmp_path / "calls"
    flaky = (
        f"echo x >> {calls}; "
        f'if [ "$(wc -l < {calls})" -eq 7 ]; then echo "device offline" >&2; exit 1; fi; ' + RUNNER
    )
    latency = LatencyConfig(warmup=1, runs=3, command=flaky)
    config = tiny_config(tiny_set, "device", trials=3, objectives=("latency", "size"))
    study = run_search(dataclasses.replace(config, latency=latency), None, tmp_path, False).study
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.PRUNED, TrialState.COMPLETE]
    assert "device offline" in study.trials[1].user_attrs["fail_reason"]
    assert len(calls.read_text().splitlines()) == 6 + 1 + 6
    for trial in (study.trials[0], study.trials[2]):
        attrs = trial.user_attrs
        assert attrs["latency_ms"] > 0 and attrs["baseline_ms"] > 0
        assert attrs["speedup"] == pytest.approx(attrs["baseline_ms"] / attrs["latency_ms"])


class _TokensAndMask(nn.Module):
    """Two inputs of two types, as a text encoder takes them."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return (self.embed(ids) * mask.unsqueeze(-1)).sum(1)


def test_the_local_runner_times_a_model_of_two_inputs_of_their_types():
    model = _TokensAndMask().eval()
    example = (torch.zeros(1, 6, dtype=torch.int64), torch.ones(1, 6))
    data = ARTIFACT_FORMATS["torchscript"].serialize(model, example)
    command = RUNNER + " --input-type {input_type}"
    timer = CommandTimer(command)
    said = timer.command(Path("m.pt"), PROTOCOL, example)
    assert "--input-shape '1,6;1,6' --input-type 'int64;float'" in said  # quoted for the shell
    assert timer(data, ".pt", PROTOCOL, example).runs == PROTOCOL.runs
