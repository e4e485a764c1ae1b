"""The QUVA-layout reader: decoding any container, the cache, and every kind of bad input."""

from __future__ import annotations

import shutil

import av
import numpy as np
import pytest

from autocompress.data.cache import CACHE_ENV, VideoCache, default_cache_dir
from autocompress.data.decode import UnreadableVideo, decode_video
from autocompress.data.quva import QuvaDataset, Subset
from autocompress.data.synthetic import SynthStyle, generate_dataset
from autocompress.errors import UserError


@pytest.fixture
def tiny_copy(tiny_set, tmp_path):
    """A copy the test may break."""
    return shutil.copytree(tiny_set, tmp_path / "set")


def test_reads_every_video_with_its_count(tiny_set, tmp_path):
    dataset = QuvaDataset(tiny_set, cache=tmp_path / "cache")
    assert len(dataset) == 3
    assert [item.name for item in dataset] == sorted(item.name for item in dataset)
    for item in dataset:
        assert item.count == len(np.load(item.annotation))
        frames = dataset.frames(item, 64)
        with av.open(str(item.video)) as container:
            assert frames.shape == (container.streams.video[0].frames, 3, 64, 64)
        assert frames.dtype.is_floating_point
        assert -1 <= frames.min() < frames.max() <= 1


def test_odd_resolution_and_frame_rate(tmp_path):
    style = SynthStyle(size=(97, 71), fps=13, frames=(20, 30), periods=(3.0, 6.0))
    generate_dataset(tmp_path, 1, seed=2, style=style)
    (video,) = (tmp_path / "videos").iterdir()
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height, stream.average_rate) == (97, 71, 13)
    dataset = QuvaDataset(tmp_path, cache=False)
    frames = dataset.frames(dataset.items[0], 64)
    assert frames.shape[1:] == (3, 64, 64) and frames.shape[0] >= 20


def _write(path, frames, codec, rate, **container_options):
    """Encode RGB frames with PyAV directly, for containers the generator does not write."""
    height, width = frames.shape[1:3]
    with av.open(str(path), "w", options=container_options) as output:
        stream = output.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for image in frames:
            output.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        output.mux(stream.encode())


def test_any_container_and_codec(tmp_path):
    """MPEG-4 part 2 in AVI, 40x30 at 7 fps: whatever FFmpeg reads."""
    (tmp_path / "videos").mkdir()
    (tmp_path / "annotations").mkdir()
    blinks = np.array([np.full((30, 40, 3), 255 * (i % 7 < 3), np.uint8) for i in range(21)])
    _write(tmp_path / "videos" / "000_blink.avi", blinks, "mpeg4", 7)
    np.save(tmp_path / "annotations" / "000_blink.npy", np.array([6, 13, 20]))
    dataset = QuvaDataset(tmp_path, cache=False)
    frames = dataset.frames(dataset.items[0], 32)
    assert frames.shape == (21, 3, 32, 32) and dataset.items[0].count == 3
    assert frames[0].mean() > 0.9 and frames[4].mean() < -0.9  # white, then black


def test_cut_off_video_with_index_up_front(tmp_path):
    """A 'faststart' mp4 cut in half still opens; too few frames decode, so it is refused."""
    noise = np.random.default_rng(0).integers(0, 255, (60, 32, 48, 3), dtype=np.uint8)
    whole, cut = tmp_path / "whole.mp4", tmp_path / "cut.mp4"
    _write(whole, noise, "libx264", 25, movflags="faststart")
    assert decode_video(whole, 32).shape[0] == 60
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    # FFmpeg either stops at the cut (PyAV 12) or decodes too few of the declared frames.
    with pytest.raises(UnreadableVideo, match=r"truncated|cannot decode"):
        decode_video(cut, 32)


def test_cache_decodes_once_and_survives_damage(tiny_set, tmp_path):
    cache = VideoCache(tmp_path)
    video = next((tiny_set / "videos").iterdir())
    first = cache.load(video, 32, decode_video)
    entry = cache.entry(video, 32)
    assert entry.is_file() and np.load(entry).dtype == np.uint8

    def must_not_decode(*_):
        raise AssertionError("decoded although cached")

    assert np.array_equal(cache.load(video, 32, must_not_decode), first)
    assert not list(tmp_path.rglob("*.partial"))
    assert cache.entry(video, 48) != entry  # the size is part of the key

    entry.write_bytes(b"not numpy")  # damaged: decoded again and replaced
    assert np.array_equal(cache.load(video, 32, decode_video), first)
    shutil.rmtree(tmp_path / "videos")  # deleted: decoded again
    assert np.array_equal(cache.load(video, 32, decode_video), first)


def test_cache_key_follows_file_content(tiny_copy, tmp_path):
    cache = VideoCache(tmp_path)
    first, second = sorted((tiny_copy / "videos").iterdir())[:2]
    before = cache.entry(first, 32)
    shutil.copyfile(second, first)
    assert cache.entry(first, 32) == cache.entry(second, 32) != before


def test_default_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv(CACHE_ENV)
    assert default_cache_dir().name == "autocompress"


def test_subsets(tiny_set):
    dataset = QuvaDataset(tiny_set, cache=False)
    assert dataset.select(None) == dataset.items
    assert dataset.select(2) == dataset.items[:2]
    assert dataset.select(Subset(9)) == dataset.items
    picked = dataset.select(Subset(2, seed=4))
    assert picked == dataset.select(Subset(2, seed=4)) and len(picked) == 2
    assert list(picked) == sorted(picked, key=lambda item: item.name)
    with pytest.raises(ValueError):
        Subset(0)


# --- bad input -----------------------------------------------------------------------------


def test_missing_directory(tmp_path):
    with pytest.raises(UserError, match="not found"):
        QuvaDataset(tmp_path / "nowhere")


def test_directory_without_the_layout(tmp_path):
    (tmp_path / "videos").mkdir()
    with pytest.raises(UserError, match="annotations/"):
        QuvaDataset(tmp_path)


def test_empty_directory(tmp_path):
    (tmp_path / "videos").mkdir()
    (tmp_path / "annotations").mkdir()
    (tmp_path / "videos" / ".DS_Store").write_bytes(b"")  # hidden files are not videos
    with pytest.raises(UserError, match="no videos"):
        QuvaDataset(tmp_path)


def test_video_without_annotation_and_the_reverse(tiny_copy):
    first, second = sorted((tiny_copy / "annotations").iterdir())[:2]
    first.unlink()
    (tiny_copy / "videos" / f"{second.stem}.mp4").unlink()
    with pytest.raises(UserError) as caught:
        QuvaDataset(tiny_copy)
    assert str(caught.value).splitlines() == [
        f"{tiny_copy}: 2 problems in the data folder:",
        f"  annotations/{second.name}: no video named {second.stem} in videos/",
        f"  videos/{first.stem}.mp4: no annotation (expected annotations/{first.name})",
    ]


def test_two_files_of_one_name(tiny_copy):
    video = sorted((tiny_copy / "videos").iterdir())[0]
    shutil.copyfile(video, video.with_suffix(".avi"))
    with pytest.raises(UserError, match=f"videos/{video.stem}.mp4: same name as {video.stem}.avi"):
        QuvaDataset(tiny_copy)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (np.array([[3, 6], [9, 12]]), "1-D array of integer"),
        (np.array([2.5, 7.0]), "1-D array of integer"),
        (np.array(["a", "b"]), "1-D array of integer"),
        (np.array([], dtype=np.int64), "no repetition"),
        (np.array([-1, 5]), "negative"),
    ],
)
def test_bad_annotation(tiny_copy, content, match):
    annotation = sorted((tiny_copy / "annotations").iterdir())[0]
    np.save(annotation, content)
    with pytest.raises(UserError, match=f"\n  annotations/{annotation.name}: .*{match}"):
        QuvaDataset(tiny_copy)


def test_unreadable_annotation(tiny_copy):
    annotation = sorted((tiny_copy / "annotations").iterdir())[0]
    annotation.write_text("17 repetitions")
    with pytest.raises(UserError, match=f"annotations/{annotation.name}: cannot read"):
        QuvaDataset(tiny_copy)


def test_whole_float_annotations_are_accepted(tiny_copy):
    annotation = sorted((tiny_copy / "annotations").iterdir())[0]
    np.save(annotation, np.array([4.0, 9.0, 14.0]))
    assert QuvaDataset(tiny_copy, cache=False).items[0].count == 3


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_unreadable_video(tiny_copy, damage):
    video = sorted((tiny_copy / "videos").iterdir())[0]
    data = video.read_bytes()
    video.write_bytes(
        {"garbage": b"\x00junk" * 100, "truncated": data[: len(data) // 2], "empty": b""}[damage]
    )
    dataset = QuvaDataset(tiny_copy, cache=False)  # the layout alone is right
    with pytest.raises(UnreadableVideo, match=video.name):
        dataset.frames(dataset.items[0], 32)
    with pytest.raises(UserError) as caught:  # verifying finds it while opening
        QuvaDataset(tiny_copy, cache=False, verify=32)
    header, line = str(caught.value).splitlines()
    assert header == f"{tiny_copy}: 1 problem in the data folder:"
    assert line.startswith(f"  videos/{video.name}: ")


def test_every_problem_is_listed_at_once(tiny_copy, tmp_path):
    """Layout, annotation and decoding problems together: one error, a line each."""
    cut, lonely, flat = sorted((tiny_copy / "videos").iterdir())
    videos, annotations = tiny_copy / "videos", tiny_copy / "annotations"
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    (annotations / f"{lonely.stem}.npy").unlink()
    np.save(annotations / f"{flat.stem}.npy", np.array([[3.0, 9.0], [15.0, 21.0]]))
    shutil.copyfile(flat, videos / "empty.mp4")
    np.save(annotations / "empty.npy", np.array([], dtype=np.int64))
    np.save(annotations / "orphan.npy", np.array([5, 10]))
    with pytest.raises(UserError) as caught:
        QuvaDataset(tiny_copy, cache=tmp_path / "cache", verify=32)
    header, *lines = str(caught.value).splitlines()
    assert header == f"{tiny_copy}: 5 problems in the data folder:"
    expected = [
        ("annotations/empty.npy", "no repetition"),
        (f"annotations/{flat.stem}.npy", "1-D array of integer frame indices"),
        ("annotations/orphan.npy", "no video named orphan"),
        (f"videos/{cut.name}", "decode"),  # "cannot decode" or "N of M frames decode"
        (f"videos/{lonely.name}", "no annotation"),
    ]
    assert len(lines) == len(expected)
    for line, (file, why) in zip(lines, sorted(expected), strict=True):  # sorted by file
        assert line.startswith(f"  {file}: ") and why in line


def test_a_lonely_video_is_decoded_too(tiny_copy):
    """A video without annotation that does not decode either: both are said at once."""
    video = sorted((tiny_copy / "videos").iterdir())[0]
    video.write_bytes(b"")
    (tiny_copy / "annotations" / f"{video.stem}.npy").unlink()
    with pytest.raises(UserError) as caught:
        QuvaDataset(tiny_copy, cache=False, verify=32)
    lines = str(caught.value).splitlines()[1:]
    assert len(lines) == 2 and all(line.startswith(f"  videos/{video.name}: ") for line in lines)


def test_verifying_fills_the_cache_for_counting(tiny_set, tmp_path):
    dataset = QuvaDataset(tiny_set, cache=tmp_path, verify=32)
    assert len(dataset) == 3
    assert all(dataset.cache.entry(item.video, 32).is_file() for item in dataset)
    assert not dataset.cache.entry(dataset.items[0].video, 48).is_file()
