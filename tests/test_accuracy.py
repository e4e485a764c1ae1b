"""MAE / OBO arithmetic, the evaluator over real decoded videos, and the CLI end to end."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import TINY

from autocompress.cli import main
from autocompress.data.cache import CACHE_ENV
from autocompress.data.quva import QuvaDataset, Subset, UnreadableVideo
from autocompress.data.synthetic import generate_dataset
from autocompress.models.repnet.counting import CountingConfig
from autocompress.models.repnet.quva_accuracy import evaluate_counts, mae_obo
from autocompress.models.repnet.weights import load_model


@pytest.fixture(scope="module")
def model():
    return load_model("repnet-s")[0]


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))


def test_mae_obo_on_known_numbers():
    # errors 2, 0, 2, 1 -> relative 0.2, 0, 0.4, 0.25; off by more than one: 2 of 4
    assert mae_obo([10, 4, 5, 4], [12, 4, 3, 5]) == pytest.approx((0.2125, 0.5))
    assert mae_obo([17], [17]) == (0.0, 0.0)
    assert mae_obo([3, 3], [0, 0]) == (1.0, 1.0)  # counting nothing is a full error
    assert mae_obo([2], [3.5]) == pytest.approx((0.75, 1.0))


@pytest.mark.parametrize(("true", "pred"), [([], []), ([1, 2], [1]), ([0, 2], [1, 2])])
def test_mae_obo_refuses_bad_input(true, pred):
    with pytest.raises(ValueError):
        mae_obo(true, pred)


def test_evaluates_every_video(tiny_set, model):
    dataset = QuvaDataset(tiny_set)
    report = evaluate_counts(
        model, dataset, counting=CountingConfig(strides=(1, 2)), progress=False
    )
    assert report.n_videos == 3
    assert [v.name for v in report.videos] == [item.name for item in dataset]
    assert [v.true for v in report.videos] == [item.count for item in dataset]
    assert all(v.pred == round(v.raw) >= 0 for v in report.videos)
    expected = mae_obo([v.true for v in report.videos], [v.pred for v in report.videos])
    assert (report.mae, report.obo) == expected
    # the tiny videos are shorter than RepNet's 64 frames and still counted
    assert all(dataset.frames(item, 64).shape[0] < 64 for item in dataset)


def test_subset_and_model_mode(tiny_set, model):
    dataset = QuvaDataset(tiny_set)
    model.train()
    report = evaluate_counts(model, dataset, subset=Subset(1, seed=3), progress=False)
    assert report.n_videos == 1 and report.videos[0].name in [i.name for i in dataset]
    assert model.training  # the caller's mode is restored
    model.eval()


def test_video_broken_after_opening_stops_the_count(tmp_path, model):
    """Checked on opening, replaced by a broken file before counting: refused, never skipped."""
    root = tmp_path / "set"
    generate_dataset(root, 2, seed=0, style=TINY)
    dataset = QuvaDataset(root, verify=model.config.image_size)
    broken = dataset.items[1].video
    broken.write_bytes(b"\x00" * 64)  # new content: not the cached frames
    with pytest.raises(UnreadableVideo, match=broken.name):
        evaluate_counts(model, dataset, progress=False)


def test_cli_lists_every_problem_of_the_folder(tiny_set, tmp_path, capsys):
    root = shutil.copytree(tiny_set, tmp_path / "set")
    videos, annotations = root / "videos", root / "annotations"
    cut, lonely, flat = sorted(videos.iterdir())
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    (annotations / f"{lonely.stem}.npy").unlink()
    np.save(annotations / f"{flat.stem}.npy", np.array([[2.0, 4.0], [6.0, 8.0]]))
    shutil.copyfile(flat, videos / "still.mp4")
    np.save(annotations / "still.npy", np.zeros(0, dtype=np.int64))
    np.save(annotations / "orphan.npy", np.array([3, 9]))
    broken = [cut, lonely, annotations / f"{flat.stem}.npy", annotations / "still.npy"]

    assert main(["evaluate", "--data", str(root)]) == 2
    err = capsys.readouterr().err
    assert f"autocompress: error: {root}: 5 problems in the data folder:\n" in err
    lines = err.splitlines()
    for file in [*broken, annotations / "orphan.npy"]:
        assert sum(line.startswith(f"  {file.relative_to(root)}: ") for line in lines) == 1
    assert "Traceback" not in err


def test_cli_synth_then_evaluate(tmp_path, capsys):
    out = tmp_path / "synth"
    args = ["data", "synth", "--out", str(out), "--videos", "2", "--seed", "3"]
    assert main([*args, "--size", "48x32", "--fps", "12"]) == 0
    assert "wrote 2 videos (48x32, 12 fps" in capsys.readouterr().out
    names = sorted(path.stem for path in (out / "videos").iterdir())

    assert main(["evaluate", "--data", str(out), "--preset", "repnet-s"]) == 0
    captured = capsys.readouterr()
    assert "MAE" in captured.out and "OBO" in captured.out and "(2 videos)" in captured.out
    assert all(name in captured.out for name in names)
    assert "counting" in captured.err  # the progress bar

    assert main(["evaluate", "--data", str(out), "--json", "--limit", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_videos"] == 1 and {"mae", "obo", "videos"} <= report.keys()
    assert report["videos"][0]["name"] == names[0]
    assert {"name", "true", "pred"} <= report["videos"][0].keys()
    assert report["mae"] == mae_obo([report["videos"][0]["true"]], [report["videos"][0]["pred"]])[0]
    assert report["counting"] == "default"

    assert main(["evaluate", "--data", str(out), "--json", "--official-counting"]) == 0
    assert json.loads(capsys.readouterr().out)["counting"] == "official"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["evaluate", "--data", "{tmp}/missing"], "data directory not found"),
        (["evaluate", "--data", "{tmp}", "--seed", "1"], "needs --limit"),
        (["data", "synth", "--out", "{tmp}/s", "--size", "8x8"], "size must be at least"),
    ],
)
def test_cli_user_errors_are_one_line(tmp_path, capsys, argv, message):
    assert main([arg.format(tmp=tmp_path) for arg in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_cli_refuses_to_mix_sets(tmp_path, capsys):
    args = ["data", "synth", "--out", str(tmp_path), "--videos", "1", "--size", "32"]
    assert main(args) == 0
    assert main([*args, "--seed", "1"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main([*args, "--seed", "1", "--overwrite"]) == 0
    assert np.load(next((tmp_path / "annotations").iterdir())).ndim == 1
