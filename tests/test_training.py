"""Training repnet-s on synthetic clips: weights written, resumable exactly, settings guarded,
fine-tuning starts from the given weights. A few steps of batch 2 keep it quick."""

import pytest
import torch

from autocompress.cli import main
from autocompress.errors import UserError
from autocompress.models.repnet.trainer import TrainingConfig, train
from autocompress.models.repnet.weights import load_model

QUICK = TrainingConfig(steps=3, batch_size=2, warmup_steps=1, threads=1, workers=0)


class _StopAfter:
    """An on_step callback that interrupts the run like Ctrl-C after ``steps`` steps."""

    def __init__(self, steps: int):
        self.steps = steps

    def __call__(self, stats) -> None:
        if stats.step == self.steps:
            raise KeyboardInterrupt


def _weights(path) -> dict[str, torch.Tensor]:
    return load_model("repnet-s", path)[0].state_dict()


def test_run_writes_loadable_weights_with_its_settings(tmp_path):
    out = train(QUICK, tmp_path / "w.pt")
    assert out == tmp_path / "w.pt"
    payload = torch.load(out, weights_only=False)
    assert payload["training"]["steps_done"] == 3 and payload["training"]["batch_size"] == 2
    model, source = load_model("repnet-s", out)
    assert source == str(out) and not model.training


def test_interrupted_run_resumes_to_the_same_weights(tmp_path):
    whole = train(QUICK, tmp_path / "whole.pt")
    with pytest.raises(KeyboardInterrupt):
        train(QUICK, tmp_path / "cut.pt", on_step=_StopAfter(2))
    assert not (tmp_path / "cut.pt").exists()
    assert torch.load(tmp_path / "cut.pt.ckpt", weights_only=False)["step"] == 2
    resumed = train(QUICK, tmp_path / "cut.pt")
    a, b = _weights(whole), _weights(resumed)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_resume_with_other_settings_is_refused(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        train(QUICK, tmp_path / "w.pt", on_step=_StopAfter(1))
    other = TrainingConfig(**{**QUICK.__dict__, "learning_rate": 5e-4})
    with pytest.raises(UserError, match="learning_rate"):
        train(other, tmp_path / "w.pt")


def test_fine_tuning_starts_from_the_given_weights(tmp_path):
    start = train(QUICK, tmp_path / "start.pt")
    # A negligible learning rate: one step leaves the starting weights as they were.
    still = TrainingConfig(**{**QUICK.__dict__, "steps": 1, "learning_rate": 1e-12})
    tuned = train(TrainingConfig(**{**still.__dict__, "init": str(start)}), tmp_path / "t.pt")
    scratch = train(still, tmp_path / "scratch.pt")
    before, after, fresh = _weights(start), _weights(tuned), _weights(scratch)
    floats = [k for k in before if before[k].is_floating_point() and "running" not in k]
    assert all(torch.allclose(before[k], after[k], atol=1e-6) for k in floats)
    assert not all(torch.allclose(before[k], fresh[k], atol=1e-6) for k in floats)


def test_cli_refuses_a_bad_curriculum_start(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--out", "w.pt", "--curriculum-start", "2"])
    assert "between 0 and 1" in capsys.readouterr().err
