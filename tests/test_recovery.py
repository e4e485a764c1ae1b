"""Recovery by distillation: it lowers the distillation loss, is reproducible for a seed,
runs from YAML through `apply`, and refuses bad input with one line."""

import dataclasses
import os
import subprocess
import sys

import pytest
import torch

from autocompress.cli import main
from autocompress.compression import FinetuneStep, Pipeline, PipelineError, PruneStep, apply
from autocompress.compression.finetune import engine as recovery
from autocompress.compression.finetune.teacher_outputs import TeacherOutputs
from autocompress.data.synthetic import SynthStyle, generate_dataset
from autocompress.models.repnet.distillation import RepNetDistillation
from autocompress.models.repnet.network import PRESETS, RepNet
from autocompress.models.repnet.recipe import CaseStudyRecipe
from autocompress.models.repnet.weights import load_model

QUICK = {"batch_size": 2, "bn_batches": 2}


@pytest.fixture(autouse=True)
def one_thread():
    """As on a busy 2-core machine: two threads each, beside other work, slowed backward
    passes tenfold here."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def teacher():
    return load_model("repnet-s")[0].eval()


def _pruned(teacher) -> torch.nn.Module:
    student = load_model("repnet-s")[0].eval()
    apply(student, CaseStudyRecipe().prune(student))
    return student


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("own-videos")
    generate_dataset(folder, 2, seed=3, style=SynthStyle(size=(48, 40), frames=(70, 90)))
    return folder


def test_recovery_lowers_the_distillation_loss(teacher):
    student = _pruned(teacher)
    step = FinetuneStep(steps=30, **QUICK)
    # The teacher's outputs alone, without the synthetic clips' labels.
    report = recovery.recover(
        student, step, teacher, distillation=RepNetDistillation(label_weight=0.0)
    )
    (log,) = report.layers
    # Photo backgrounds make the clips harder: 30 steps win about 8 % (0.213 -> 0.196).
    assert log.steps == 30 and log.loss_after < 0.95 * log.loss_before
    assert report.model is student  # in place, like pruning


def test_the_same_seed_gives_the_same_weights(teacher):
    runs = [_pruned(teacher) for _ in range(2)]
    for student in runs:
        apply(student, FinetuneStep(steps=3, seed=5, **QUICK), teacher=teacher)
    first, second = (run.state_dict() for run in runs)
    assert all(torch.equal(first[key], second[key]) for key in first)
    other = _pruned(teacher)
    apply(other, FinetuneStep(steps=3, seed=6, **QUICK), teacher=teacher)
    assert not torch.equal(
        other.state_dict()["tsm_conv.conv.weight"], first["tsm_conv.conv.weight"]
    )


def test_later_recoveries_reuse_the_teachers_outputs_with_the_same_weights(monkeypatch):
    teacher = load_model("repnet-s")[0].eval()
    forwards = []
    teacher.register_forward_hook(lambda *_: forwards.append(1))  # deep copies keep it
    step = FinetuneStep(steps=3, seed=5, **QUICK)

    def recover_once() -> tuple[dict, int]:
        student, before = _pruned(teacher), len(forwards)
        apply(student, step, teacher=teacher)
        return student.state_dict(), len(forwards) - before

    monkeypatch.setattr(recovery, "TEACHER_OUTPUTS", TeacherOutputs())
    first, computing = recover_once()
    second, reusing = recover_once()
    assert computing == 1 + 1 + 3 and reusing == 1  # check, held batch, steps; check only
    monkeypatch.setattr(recovery, "TEACHER_OUTPUTS", TeacherOutputs(limit_bytes=0))
    fresh, recomputing = recover_once()
    assert recomputing == computing
    for weights in (second, fresh):
        assert all(torch.equal(first[key], weights[key]) for key in first)

    monkeypatch.setattr(recovery, "TEACHER_OUTPUTS", TeacherOutputs())
    recover_once()
    with torch.no_grad():
        teacher.tsm_conv.conv.weight.mul_(1.01)  # changed in place: its outputs change too
    assert recover_once()[1] == computing
    step = dataclasses.replace(step, seed=6)  # other batches
    assert recover_once()[1] == computing


def test_zero_steps_only_reestimates_batch_norms(teacher):
    student = _pruned(teacher)
    weights = {k: v.clone() for k, v in student.named_parameters()}
    means = student.encoder.stem.conv.weight.clone(), student.temporal_conv.bn.running_mean.clone()
    apply(student, FinetuneStep(steps=0, **QUICK), teacher=teacher)
    assert all(torch.equal(weights[k], v) for k, v in student.named_parameters())
    assert torch.equal(student.encoder.stem.conv.weight, means[0])
    assert not torch.equal(student.temporal_conv.bn.running_mean, means[1])


def test_a_folder_of_unlabelled_videos_is_enough(teacher, videos):
    student = _pruned(teacher)
    report = apply(student, FinetuneStep(steps=2, data=str(videos), **QUICK), teacher=teacher)
    assert report.layers[0].data == str(videos)


def test_bad_recovery_input_is_one_clear_error(teacher, tmp_path):
    with pytest.raises(PipelineError, match="steps must be an integer >= 0"):
        FinetuneStep(steps=-1)
    with pytest.raises(PipelineError, match="put quantize last"):
        Pipeline.from_yaml(
            "steps:\n- quantize: {layers: [encoder.stem.conv]}\n- finetune: {steps: 10}\n"
        ).validate()
    (tmp_path / "notes.mp4").write_text("not a video")
    with pytest.raises(PipelineError, match="no readable video"):
        apply(_pruned(teacher), FinetuneStep(data=str(tmp_path), **QUICK), teacher=teacher)
    with pytest.raises(PipelineError, match="not a folder"):
        apply(_pruned(teacher), FinetuneStep(data=str(tmp_path / "absent")), teacher=teacher)
    other = RepNet(dataclasses.replace(PRESETS["repnet-s"], max_period=16)).eval()
    with pytest.raises(PipelineError, match="teacher does not match"):
        apply(_pruned(teacher), FinetuneStep(**QUICK), teacher=other)
    with pytest.raises(PipelineError, match="teacher"):
        apply(_pruned(teacher), FinetuneStep(**QUICK))


def test_a_pipeline_with_finetune_runs_from_yaml_through_apply(tmp_path):
    pipeline = Pipeline([PruneStep({"temporal_conv": 0.5}), FinetuneStep(steps=2, **QUICK)])
    assert Pipeline.from_yaml(pipeline.to_yaml()) == pipeline
    path = tmp_path / "p.yaml"
    path.write_text(pipeline.to_yaml())
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "autocompress.cli",
            "apply",
            str(path),
            "--out",
            str(tmp_path / "m.pt"),
            "--runs",
            "1",
            "--warmup",
            "0",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "AUTOCOMPRESS_CACHE": str(tmp_path), "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert "finetune" in done.stdout and "distillation loss" in done.stdout
    assert (tmp_path / "m.pt").is_file()


@pytest.mark.parametrize(
    ("pipeline", "message"),
    [
        ("- quantize: {layers: [encoder.stem.conv]}\n- finetune: {steps: 5}", "put quantize last"),
        ("- finetune: {steps: -3}", "steps must be an integer >= 0"),
        ("- finetune: {steps: 5, speed: 2}", "unexpected keyword argument 'speed'"),
    ],
)
def test_a_bad_finetune_step_is_one_line_from_the_cli(pipeline, message, tmp_path, capsys):
    path = tmp_path / "p.yaml"
    path.write_text(f"steps:\n{pipeline}\n")
    assert main(["apply", str(path), "--out", str(tmp_path / "m.pt")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
