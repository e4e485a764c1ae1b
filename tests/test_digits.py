"""The second shipped model, end to end: a digits classifier through the command line
(search, pareto, export) and through the Python API, recovery included; and a user's own
model from an import path."""

import json
import re
import textwrap

import pytest
import torch
from torch import nn

import autocompress
from autocompress import load_artifact
from autocompress.cli import main
from autocompress.compression import FinetuneStep, PruneStep, apply
from autocompress.models.digits.adapter import held_out_part, load_digits_model
from autocompress.models.digits.network import digits_split, error_rate, train_digits

# A short study: three trials after the baseline and the warm start, each free to climb the
# recovery ladder's one short rung.
SETTINGS = {
    "sampler": "random",
    "latency": {"warmup": 1, "runs": 5},
    "recovery": {"rungs": [10], "share": 1.0},
    "data": {"screen_videos": 50},
}


@pytest.fixture(scope="module")
def digits():
    return load_digits_model()[0]


def test_the_shipped_weights_classify_the_held_out_digits(digits):
    assert error_rate(digits) < 0.05


def test_training_learns_in_a_few_epochs():
    model = train_digits(epochs=3)
    assert error_rate(model) < 0.5  # ten classes: chance is 0.9


def test_recovery_distils_a_pruned_classifier_back(digits):
    student = load_digits_model()[0]
    apply(student, PruneStep({"stages.1": 0.5, "stages.1.0.inner": 0.5}))
    report = apply(student, FinetuneStep(steps=20, batch_size=32), teacher=digits)
    (log,) = report.layers
    assert log.loss_after < log.loss_before


def test_the_command_line_searches_exports_and_reloads_the_digits_model(tmp_path, capsys):
    runs = tmp_path / "runs"
    study = ["--study", "digits", "--run-dir", str(runs)]
    assert main(["search", *study, "--trials", "9", "--sampler", "random", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "top1_error" in out and "objectives latency, size, top1_error" in out
    assert main(["pareto", *study]) == 0
    assert "top1_error" in capsys.readouterr().out
    assert main(["pareto", *study, "--test"]) == 0  # the front counted on the test images
    out = capsys.readouterr().out
    assert "test top1_error" in out and "258 held-out items" in out
    out_dir = tmp_path / "export"
    assert main(["export", *study, "--trial", "fastest", "--out", str(out_dir)]) == 0
    said = capsys.readouterr().out  # why this trial is the fastest, as timed again
    assert "test top1_error" in said
    why = r"^trials? [0-9, and]+ (is the fastest|is the only point|are within each other's)"
    assert re.search(why, said, re.M)
    (metrics_file,) = out_dir.glob("*.json")
    metrics = json.loads(metrics_file.read_text())
    assert metrics["measured_after_export"]["top1_error"] == pytest.approx(
        metrics["trial_metrics"]["top1_error"]
    )
    # The shipped file classifies the selection images as the trial's model did, and the
    # test images as the stored test score says.
    artifact = load_artifact(next(out_dir.glob("*.pt")))
    for test, stored in ((False, metrics["trial_metrics"]), (True, metrics["test_set"]["errors"])):
        images, labels = held_out_part(0.5, test)
        wrong = (artifact(images).argmax(-1) != labels).double().mean().item()
        assert wrong == pytest.approx(stored["top1_error"], abs=0.01)


def _top1_error(model: nn.Module) -> float:
    return error_rate(model)


def test_the_python_api_searches_a_model_it_is_given(tmp_path):
    model = load_digits_model()[0]
    images = digits_split(held_out=False)[0][:16]
    result = autocompress.search(
        model,
        images,
        evaluate=_top1_error,
        objectives=["top1_error"],
        trials=10,
        run_dir=tmp_path,
        settings=SETTINGS,
        progress=False,
    )
    trials = result.study.get_trials(deepcopy=False)
    climbed = [t for t in trials if len(t.user_attrs.get("rungs", ())) > 1]
    assert len(trials) == 10 and climbed
    front = autocompress.pareto(result)
    assert front.rows and front.error_names == ("top1_error",)
    assert "top1_error" in str(front)
    exported = autocompress.export(result, "fastest", tmp_path / "out")
    assert exported.artifacts and exported.measured["top1_error"] is not None
    assert f"trial {exported.number}:" in str(exported)
    # The command line reads the study, and says where its model is to be exported.
    assert main(["pareto", "--study", "custom", "--run-dir", str(tmp_path)]) == 0
    argv = ["export", "--study", "custom", "--run-dir", str(tmp_path), "--trial", "fastest"]
    assert main([*argv, "--out", str(tmp_path / "cli")]) == 2


MODULE = textwrap.dedent(
    """
    import torch
    from torch import nn

    def make():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                              nn.Linear(32, 1))
        return model.eval(), torch.randn(16, 8)

    def error(model):
        with torch.no_grad():
            x = torch.linspace(-1, 1, 64).repeat(8, 1).T
            return float(model(x).abs().mean())
    """
)


def test_a_model_from_an_import_path_runs_the_whole_flow(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_models.py").write_text(MODULE)
    monkeypatch.chdir(tmp_path)
    common = ["--study", "mine", "--run-dir", str(tmp_path / "runs")]
    argv = ["search", *common, "--model", "my_models:make", "--task", "my_models:error"]
    assert main([*argv, "--trials", "8", "--sampler", "random", "--no-progress"]) == 0
    assert "error" in capsys.readouterr().out
    assert main(["pareto", *common]) == 0
    out = tmp_path / "out"
    assert main(["export", *common, "--trial", "smallest", "--out", str(out)]) == 0
    artifact = load_artifact(next(out.glob("*.pt")))
    assert artifact(torch.randn(4, 8)).shape == (4, 1)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "no_such_module:make"], "cannot import no_such_module"),
        (["--model", "autocompress.models.digits.network:nothing"], "has no attribute"),
        (["--model", "autocompress.models.digits.network:IMAGE_SIZE"], "a model factory returns"),
        (["--preset", "digits", "--objectives", "latency,mae"], "'mae' is not measured"),
    ],
)
def test_a_bad_model_or_objective_is_one_line(argv, message, tmp_path, capsys):
    assert main(["search", "--study", "bad", "--run-dir", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
