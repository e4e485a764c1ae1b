"""Videos as varied as real ones: photo-textured shapes, a panning and zooming camera, per-video
frame sizes, rates and codecs, and the two varied looks."""

from __future__ import annotations

import dataclasses

import av
import numpy as np
import pytest

from autocompress.data.decode import decode_video
from autocompress.data.quva import QuvaDataset
from autocompress.data.synthetic import (
    CODECS,
    CONTAINERS,
    HELD_OUT_STYLE,
    VARIED_STYLE,
    VARIED_TEST_STYLE,
    SynthStyle,
    generate_dataset,
    write_video,
)
from autocompress.data.synthetic.render import render
from autocompress.data.synthetic.scene import camera_path, sample_scene
from autocompress.data.synthetic.sprites import Sprite, photo_texture
from autocompress.data.synthetic.timeline import video_timeline

TINY = SynthStyle(size=(48, 32), fps=10, frames=(24, 40), periods=(3.0, 8.0))
# Nothing but the background and the shapes: no shake, flicker or pixel noise.
STILL = dataclasses.replace(TINY, size=(64, 48), shake=0.0, flicker=0.0, noise=0.0)


def _scene(style: SynthStyle, seed: int):
    rng = np.random.default_rng(seed)
    return sample_scene(rng, style, video_timeline(rng, style), difficulty=1.0)


def _frames(scene, start: int = 0, stop: int | None = None) -> np.ndarray:
    stop = len(scene.gain) if stop is None else stop
    return render(scene, start, stop, np.random.default_rng(0)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Photo-textured shapes


def test_sprite_photo_share_gives_that_share_of_shapes_a_texture():
    textured = dataclasses.replace(STILL, sprite_photo_share=1.0, max_distractors=3)
    for seed in range(3):
        assert all(sprite.texture is not None for sprite in _scene(textured, seed).sprites)
        assert all(sprite.texture is None for sprite in _scene(STILL, seed).sprites)
    half = dataclasses.replace(STILL, sprite_photo_share=0.5)
    rng = np.random.default_rng(0)
    drawn = [photo_texture(rng, half) is not None for _ in range(200)]
    assert 70 < sum(drawn) < 130


def test_no_photo_share_draws_nothing_so_flat_styles_sample_the_scenes_they_did():
    rng = np.random.default_rng(4)
    assert photo_texture(rng, STILL) is None
    assert camera_path(rng, 50, 0.0, 48) is None
    assert rng.random() == np.random.default_rng(4).random()


def test_a_photo_texture_varies_inside_the_shape_and_stays_inside_it():
    """A disc filled with a photograph's detail varies where a flat one is one colour, and
    the pixels away from the disc are the same either way."""
    scene = dataclasses.replace(_scene(STILL, 1), sprites=())
    frames = len(scene.gain)
    texture = photo_texture(
        np.random.default_rng(2), dataclasses.replace(STILL, sprite_photo_share=1.0)
    )
    flat = Sprite(
        shape="disc",
        center=np.tile([0.65, 0.5], (frames, 1)),
        angle=np.zeros(frames),
        radius=np.full(frames, 0.3),
        color=np.tile([0.41, 0.33, 0.62], (frames, 1)),  # away from rounding edges
    )
    plain, photo = (
        _frames(dataclasses.replace(scene, sprites=(sprite,)), 0, 1)[0]
        for sprite in (flat, dataclasses.replace(flat, texture=texture))
    )
    y, x = np.mgrid[0:48, 0:64] + 0.5
    distance = np.hypot(x - 0.65 * 48, y - 0.5 * 48) / (0.3 * 48)
    inside, outside = distance < 0.8, distance > 1.1
    assert plain[inside].std(axis=0).max() == 0
    assert photo[inside].std(axis=0).min() > 5  # levels of 255
    assert np.array_equal(plain[outside], photo[outside])


# ---------------------------------------------------------------------------------------------
# Camera motion


def test_camera_motion_moves_the_background_where_a_still_camera_does_not():
    moving = dataclasses.replace(STILL, camera_motion=0.3, photo_share=1.0)
    for seed in range(4):
        for style, moves in (
            (dataclasses.replace(moving, camera_motion=0.0), False),
            (moving, True),
        ):
            scene = dataclasses.replace(_scene(style, seed), sprites=())
            frames = _frames(scene)
            change = float(np.abs(frames[-1] - frames[0]).mean())
            assert (change > 1.0) if moves else change == 0, (seed, moves, change)


def test_the_camera_path_is_slow_bounded_and_not_periodic():
    for seed in range(20):
        camera = camera_path(np.random.default_rng(seed), 200, 0.3, 100)
        pan, zoom = camera[:, :2], camera[:, 2]
        assert np.abs(pan).max() <= 0.3 * 100 / 2 + 1e-9
        assert zoom.min() >= 1 and zoom.max() <= 1.3 + 1e-9
        steps = np.abs(np.diff(camera, axis=0))
        assert steps[:, :2].max() <= 0.3 * 100 * np.pi / 2 / 199 + 1e-9  # px per frame
        for column in camera.T:  # each moves one way only (monotone), or not at all
            assert np.all(np.diff(column) >= -1e-12) or np.all(np.diff(column) <= 1e-12)


def test_a_still_camera_path_renders_as_no_camera_at_all():
    """The resampling path with no pan and no zoom gives the crop path's pixels exactly, with
    shake: the two agree on where the view is."""
    shaky = dataclasses.replace(STILL, shake=0.1, photo_share=1.0, max_distractors=2)
    scene = _scene(shaky, 3)
    assert scene.margin > 0 and scene.camera is None
    still = np.tile([0.0, 0.0, 1.0], (len(scene.gain), 1))
    assert np.array_equal(_frames(scene), _frames(dataclasses.replace(scene, camera=still)))


def test_a_pan_moves_background_and_shapes_together():
    """Panning 3 pixels right shows what a still camera shows 3 pixels further right, shapes
    included: the camera moves, the scene does not."""
    scene = _scene(dataclasses.replace(STILL, photo_share=1.0, max_distractors=2), 5)
    frames = len(scene.gain)
    wide = dataclasses.replace(
        scene,
        margin=4,
        background=np.pad(scene.background, ((4, 4), (4, 4), (0, 0)), mode="reflect"),
    )
    still = np.tile([0.0, 0.0, 1.0], (frames, 1))
    panned = still + np.array([3.0, 0.0, 0.0])
    a = _frames(dataclasses.replace(wide, camera=still))
    b = _frames(dataclasses.replace(wide, camera=panned))
    assert np.abs(b[:, :, :-3] - a[:, :, 3:]).max() <= 1
    assert np.abs(b - a).mean() > 1  # it did move


def test_a_zoom_magnifies_background_and_shapes_together():
    """Zoomed in twice, each 2x2 block of the frame averages to the pixel a still camera shows
    at the same place in the frame's central half, photo background and shapes alike."""
    style = dataclasses.replace(STILL, photo_share=1.0, shape_radius=(0.15, 0.2), max_distractors=2)
    for seed in (6, 7, 8):
        scene = _scene(style, seed)
        still = np.tile([0.0, 0.0, 1.0], (len(scene.gain), 1))
        a = _frames(dataclasses.replace(scene, camera=still))[:, 12:36, 16:48]
        b = _frames(dataclasses.replace(scene, camera=still * [1.0, 1.0, 2.0]))
        blocks = b.reshape(len(b), 24, 2, 32, 2, 3).mean(axis=(2, 4))
        assert np.abs(blocks - a).mean(axis=(1, 2, 3)).max() < 2.5  # levels; 1.3 to 1.8 here
        assert np.abs(b[:, 12:36, 16:48] - a).mean() > 5  # it did zoom


def test_camera_motion_and_photo_shapes_leave_the_annotations_alone(tmp_path):
    styles = {
        "plain": TINY,
        "varied": dataclasses.replace(TINY, camera_motion=0.3, sprite_photo_share=1.0),
    }
    written = {
        name: generate_dataset(tmp_path / name, 3, seed=8, style=s) for name, s in styles.items()
    }
    assert [v.count for v in written["plain"]] == [v.count for v in written["varied"]]
    for plain, varied in zip(written["plain"], written["varied"], strict=True):
        ends = [
            np.load(tmp_path / name / "annotations" / f"{v.name}.npy")
            for name, v in (("plain", plain), ("varied", varied))
        ]
        assert np.array_equal(*ends)
        files = [
            (tmp_path / name / "videos" / v.file).read_bytes()
            for name, v in (("plain", plain), ("varied", varied))
        ]
        assert files[0] != files[1]


# ---------------------------------------------------------------------------------------------
# Codecs, sizes and frame rates


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("size", [(48, 32), (37, 29)])
def test_every_codec_writes_a_video_that_decodes_back(tmp_path, codec, size):
    width, height = size
    if codec == "mpeg4" and width % 2:
        with pytest.raises(ValueError, match="even"):
            write_video(tmp_path / "odd.mp4", iter([]), 10, width, height, codec=codec)
        return
    y, x = np.mgrid[0:height, 0:width]
    frames = np.stack(
        [
            np.stack([(x * 5 + 9 * t) % 256, (y * 7) % 256, np.full_like(x, 40 * t)], -1)
            for t in range(6)
        ]
    ).astype(np.uint8)
    paths = [tmp_path / f"{name}{CONTAINERS[codec]}" for name in "ab"]
    for path in paths:
        write_video(path, iter([frames[:4], frames[4:]]), 12, width, height, codec=codec)
    assert paths[0].read_bytes() == paths[1].read_bytes()  # a seeded set stays one set
    with av.open(str(paths[0])) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height, stream.average_rate) == (width, height, 12)
        decoded = np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(stream)])
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(np.float32) - frames).mean() < 12
    assert decode_video(paths[0], 16).shape == (6, 3, 16, 16)


def test_a_varied_set_mixes_sizes_rates_and_codecs_and_reads_back_with_its_counts(tmp_path):
    style = dataclasses.replace(
        TINY,
        sizes=((48, 32), (32, 32), (40, 30), (30, 40)),
        fps_choices=(10, 12, 15),
        codecs=CODECS,
    )
    written = generate_dataset(tmp_path, 8, seed=1, style=style)
    assert len({v.size for v in written}) > 1
    assert len({v.fps for v in written}) > 1
    assert len({v.codec for v in written}) > 1
    assert {v.file.rsplit(".", 1)[1] for v in written} == {"mp4", "webm"}
    for video in written:
        with av.open(str(tmp_path / "videos" / video.file)) as container:
            stream = container.streams.video[0]
            found = (stream.codec_context.name, (stream.width, stream.height), stream.average_rate)
        expected = {"libx264": "h264", "libx265": "hevc", "mpeg4": "mpeg4", "libvpx-vp9": "vp9"}
        assert found == (expected[video.codec], video.size, video.fps)
    dataset = QuvaDataset(tmp_path, cache=False, verify=32)
    assert [item.name for item in dataset] == [v.name for v in written]
    assert [item.count for item in dataset] == [v.count for v in written]
    again = generate_dataset(tmp_path / "again", 8, seed=1, style=style)
    assert again == written


def test_a_style_without_choices_keeps_its_one_size_rate_and_codec(tmp_path):
    assert SynthStyle().size_choices == ((160, 120),)
    assert SynthStyle().fps_options == (25,) and SynthStyle().codecs == ("libx264",)
    written = generate_dataset(tmp_path, 2, seed=0, style=TINY)
    assert {(v.size, v.fps, v.codec, v.file[-4:]) for v in written} == {
        ((48, 32), 10, "libx264", ".mp4")
    }


# ---------------------------------------------------------------------------------------------
# The varied looks


def test_the_varied_test_look_differs_from_the_varied_look_in_more_than_the_seed():
    varied, test = VARIED_STYLE, VARIED_TEST_STYLE
    assert len(varied.size_choices) > 1 and len(varied.fps_options) > 1 and len(varied.codecs) > 1
    assert len(test.size_choices) > 1 and len(test.fps_options) > 1 and len(test.codecs) > 1
    assert varied.sprite_photo_share > 0 and varied.camera_motion > 0
    assert not set(test.size_choices) & set(varied.size_choices)
    assert not set(test.fps_options) & set(varied.fps_options)
    assert set(test.codecs) - set(varied.codecs)
    assert test.camera_motion > varied.camera_motion
    assert test.sprite_photo_share > varied.sprite_photo_share
    assert SynthStyle(size=(224, 126), fps=30, crf=28) == HELD_OUT_STYLE  # as it was


@pytest.mark.parametrize("look", [VARIED_STYLE, VARIED_TEST_STYLE])
def test_the_varied_looks_make_sets_the_loader_reads(tmp_path, look):
    short = dataclasses.replace(look, frames=(20, 32), periods=(3.0, 6.0))
    written = generate_dataset(tmp_path, 3, seed=2, style=short)
    dataset = QuvaDataset(tmp_path, cache=False, verify=32)
    assert [item.count for item in dataset] == [v.count for v in written]
    assert all(v.size in look.size_choices and v.codec in look.codecs for v in written)


# ---------------------------------------------------------------------------------------------
# Bad knob values


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"sizes": ((160, 120), (8, 8))}, "at least 16x16"),
        ({"sizes": (160, 120)}, "pairs"),
        ({"sizes": [(160, 120)]}, "tuple of choices"),
        ({"fps_choices": (25, 0)}, "fps must be >= 1"),
        ({"codecs": ()}, "codecs must be a non-empty subset"),
        ({"codecs": ("h264",)}, "codecs must be a non-empty subset"),
        ({"codecs": "libx264"}, "tuple of choices"),
        ({"codecs": ("mpeg4",), "sizes": ((160, 120), (97, 71))}, "mpeg4 writes only even"),
        ({"sprite_photo_share": 1.5}, "sprite_photo_share must be in"),
        ({"sprite_photo_share": -0.1}, "sprite_photo_share must be in"),
        ({"camera_motion": -0.1}, "camera_motion must be in"),
        ({"camera_motion": 2.0}, "camera_motion must be in"),
    ],
)
def test_bad_knobs_are_refused_with_a_clear_message(knobs, message):
    with pytest.raises(ValueError, match=message):
        SynthStyle(**knobs)
