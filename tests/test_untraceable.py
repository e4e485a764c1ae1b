"""Models torch.fx cannot trace are searched with what they allow: int8 on pt2e where they
export, dynamic int8 of their Linear layers where they do not; and they ship as TorchScript
traced where they cannot be scripted, or are refused in one line where the trace is wrong."""

import logging

import pytest
import torch
from torch import nn

import autocompress
from autocompress.analysis.sqnr import sqnr_ranking
from autocompress.backends import ARTIFACT_FORMATS
from autocompress.compression.quantization import choose_backend, quantization_backend
from autocompress.errors import UserError
from autocompress.inputs import output_tensors
from autocompress.study.config import StudyConfig

FAST = {"sampler": "random", "warm_start": False, "latency": {"warmup": 1, "runs": 3}}


class Asserting(nn.Module):
    """An ``assert`` in forward: FX cannot trace it, torch.export can."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        assert x.dim() == 4, "images"
        x = torch.relu(self.conv2(torch.relu(self.conv(x))))
        return self.fc(x.mean((2, 3)))


class Branching(nn.Module):
    """A branch on a value: neither FX nor torch.export can make a graph of it (scriptable)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x):
        x = self.conv(x).mean((2, 3))
        if x.sum() > 0:
            x = torch.relu(x)
        return self.fc2(torch.relu(self.fc1(x)))


class VarArgs(nn.Module):
    """``*inputs`` (TorchScript cannot compile it) and a dict output."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 3)

    def forward(self, *inputs):
        hidden = self.fc(inputs[0])
        return {"logits": hidden.softmax(-1), "hidden": hidden}


class VarArgsBranching(VarArgs):
    """Not scriptable, and its trace follows one branch only."""

    def forward(self, *inputs):
        x = inputs[0]
        return self.fc(x) if x.mean() > 0 else -self.fc(x)


def _images(count=6):
    return torch.randn(count, 3, 12, 12, generator=torch.Generator().manual_seed(0))


def _search(model, tmp_path, name, trials, **settings):
    torch.manual_seed(0)
    return autocompress.search(
        model,
        _images(),
        trials=trials,
        run_dir=tmp_path,
        name=name,
        settings={**FAST, **settings},
        progress=False,
    )


def _quantize_steps(study):
    return [
        step["quantize"]
        for trial in study.trials
        for step in trial.user_attrs["pipeline"]["steps"]
        if "quantize" in step
    ]


def test_a_model_fx_cannot_trace_is_searched_with_pt2e_int8(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="autocompress"):
        result = _search(Asserting(), tmp_path, "asserting", 6, space={"orders": ["Q", "PQ"]})
    states = [trial.state.name for trial in result.study.trials]
    assert states == ["COMPLETE"] * 6
    steps = _quantize_steps(result.study)
    assert steps and all((s["backend"], s["mode"]) == ("pt2e", "static") for s in steps)
    assert "int8 on pt2e (fx: torch.fx cannot trace Asserting (" in caplog.text


def test_a_backend_the_study_names_that_cannot_work_fails_in_one_line(tmp_path):
    refusal = r"^quantization: fx: torch\.fx cannot trace Asserting \(symbolically traced"
    with pytest.raises(UserError, match=refusal) as error:
        _search(Asserting(), tmp_path, "named", 2, quantization="fx", space={"orders": ["Q"]})
    assert "\n" not in str(error.value)


def test_a_model_neither_fx_nor_export_handles_gets_dynamic_int8(tmp_path, caplog):
    choice = choose_backend(Branching(), _images(1), StudyConfig().quantize_backends)
    assert choice.name == "dynamic"
    assert "fx: torch.fx cannot trace Branching" in choice.line
    assert "pt2e: torch.export cannot export Branching" in choice.line
    with caplog.at_level(logging.INFO, logger="autocompress"):
        result = _search(Branching(), tmp_path, "branching", 4, space={"orders": ["Q"]})
    assert [trial.state.name for trial in result.study.trials] == ["COMPLETE"] * 4
    steps = _quantize_steps(result.study)
    assert steps and all((s["backend"], s["mode"]) == ("dynamic", "dynamic") for s in steps)
    assert all(set(s["layers"]) <= {"fc1", "fc2"} for s in steps)
    assert "SQNR ranking of 2 layers, skipping 1 Conv2d left float by dynamic" in caplog.text


def test_the_dynamic_sqnr_ranks_the_linear_layers_by_their_real_output_error():
    ranking = sqnr_ranking(Branching(), _images(3), "dynamic")
    assert {r.name for r in ranking.results} == {"fc1", "fc2"}
    assert all(10 < r.sqnr_db < 80 for r in ranking.results)  # measured, neither 0 nor inf
    assert ranking.skipped == {"conv": "Conv2d"}
    assert ranking.line == "SQNR ranking of 2 layers, skipping 1 Conv2d left float by dynamic"


def _ships_equal(model, example):
    torchscript = ARTIFACT_FORMATS["torchscript"]
    loaded = torchscript.load(torchscript.serialize(model, example))
    with torch.no_grad():
        expected, got = model(*example), loaded(*example)
        for _ in range(torchscript.settle_runs):  # the timing path: settled runs of the file
            got = loaded(*example)
    assert isinstance(got, dict)
    assert list(got) == list(expected)
    for want, have in zip(output_tensors(expected), output_tensors(got), strict=True):
        torch.testing.assert_close(have, want, rtol=1e-4, atol=1e-5)


def test_a_model_that_cannot_be_scripted_ships_traced_with_its_dict_outputs():
    with pytest.raises(Exception, match="arguments"):  # the premise: scripting refuses it
        torch.jit.script(VarArgs())
    _ships_equal(VarArgs().eval(), (torch.randn(2, 6),))


def test_a_trace_that_follows_one_branch_is_refused_in_one_line():
    example = (torch.rand(2, 6) + 0.5,)  # positive: the trace records the first branch
    with pytest.raises(UserError) as error:
        ARTIFACT_FORMATS["torchscript"].serialize(VarArgsBranching().eval(), example)
    message = str(error.value)
    assert message.startswith("torchscript cannot ship VarArgsBranching: it does not script (")
    assert "other outputs than the model on another input" in message
    assert "\n" not in message


def test_a_hugging_face_model_ships_as_torchscript_float_and_dynamic_int8():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
    )
    bert = transformers.BertModel(config).eval()
    example = (torch.randint(0, 100, (2, 7)), torch.ones(2, 7, dtype=torch.long))
    _ships_equal(bert, example)
    linears = [name for name, m in bert.named_modules() if isinstance(m, nn.Linear)]
    int8 = quantization_backend("dynamic").quantize(bert, linears, "dynamic", None)
    _ships_equal(int8, example)
