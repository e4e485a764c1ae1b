"""Sampling a whole scene: background, actors, distractors, camera shake and motion, flicker
and noise.

All of a scene's random draws happen here, before any pixel is drawn, so rendering is plain
drawing and can go chunk by chunk; only the pixel noise is drawn while rendering.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from autocompress.data.synthetic.photos import PHOTOS, photo_crop
from autocompress.data.synthetic.sprites import Sprite, actor, distractor, smooth_walk
from autocompress.data.synthetic.style import SynthStyle, color
from autocompress.data.synthetic.timeline import Timeline


@dataclass(frozen=True)
class Scene:
    width: int
    height: int
    background: np.ndarray  # (H + 2 margin) x (W + 2 margin) x 3 float32
    margin: int  # largest camera shake (plus pan, and a pixel, when the camera moves), pixels
    shake: np.ndarray  # T x 2 integer pixel offsets
    gain: np.ndarray  # T, global brightness
    noise: float
    sprites: tuple[Sprite, ...]
    timeline: Timeline
    motion: str  # of the first actor, for the video's name
    shape: str
    backdrop: str  # the photograph behind it (autocompress.data.synthetic.photos), or "flat"
    # The camera's slow pan (x, y in pixels, added to the shake) and zoom (>= 1, about the
    # frame's centre) per frame, T x 3; None: it only shakes.
    camera: np.ndarray | None = None


def _upsample(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear upsampling of a small gh x gw x C grid, as two interpolation matrices."""

    def weights(cells: int, size: int) -> np.ndarray:
        position = np.linspace(0, cells - 1, size)
        return np.maximum(0, 1 - np.abs(position[:, None] - np.arange(cells)[None, :]))

    rows, cols = weights(grid.shape[0], height), weights(grid.shape[1], width)
    return np.einsum("hg,gkc,wk->hwc", rows, grid, cols).astype(np.float32)


def _background(
    rng: np.random.Generator, style: SynthStyle, height: int, width: int
) -> tuple[np.ndarray, float, str]:
    """A static background, its mean brightness and its backdrop: a photograph's crop with its
    detail scaled by a drawn contrast, or a flat texture (colour blotches, value noise, maybe
    stripes)."""
    value = rng.uniform(0.15, 0.85)
    if rng.random() < style.photo_share:
        name = str(rng.choice(PHOTOS))
        crop = photo_crop(rng, name, height, width)
        image = value + rng.uniform(*style.photo_contrast) * (crop - crop.mean())
        return np.clip(image, 0, 1).astype(np.float32), value, name
    base, tint = color(rng, style, value), color(rng, style, value)
    blotches = _upsample(rng.uniform(0, 1, (*rng.integers(2, 5, 2), 1)), height, width)
    grain = _upsample(rng.uniform(-1, 1, (*rng.integers(6, 16, 2), 1)), height, width)
    pattern = grain
    if rng.random() < 0.5:
        y, x = np.mgrid[0:height, 0:width].astype(np.float32)
        angle, wavelength = rng.uniform(0, math.pi), rng.uniform(6, 24)
        stripes = np.sin((x * math.cos(angle) + y * math.sin(angle)) * math.tau / wavelength)
        pattern = 0.5 * grain + 0.5 * stripes[..., None]
    texture = style.texture * rng.uniform(0.2, 1.0)
    image = base + (tint - base) * blotches * rng.uniform(0, 0.8) + texture * pattern
    return np.clip(image, 0, 1).astype(np.float32), value, "flat"


def _glide(rng: np.random.Generator, frames: int, start: int, end: int) -> np.ndarray:
    """Offset of the actor outside the action: it slides in before ``start``, away after ``end``."""
    t = np.arange(frames, dtype=np.float64)
    entering = np.clip((start - t) / max(start, 1), 0, 1)
    leaving = np.clip((t - end) / max(frames - 1 - end, 1), 0, 1)
    directions = rng.uniform(0, math.tau, 2)
    distances = rng.uniform(0.15, 0.4, 2)
    vectors = distances[:, None] * np.stack([np.cos(directions), np.sin(directions)], axis=1)
    return entering[:, None] * vectors[0] + leaving[:, None] * vectors[1]


def camera_path(
    rng: np.random.Generator, frames: int, extent: float, scale: int
) -> np.ndarray | None:
    """A slow pan, zoom or both across the whole video, T x 3 (x, y pixels, zoom): up to
    ``extent`` short sides of travel (centred on the still view) and a zoom up to 1 + ``extent``
    (in or out), eased in and out so it never jerks and never repeats. It moves the camera, not
    the action, so the repetitions (and their annotation) stay as they were. None when still.
    """
    if extent <= 0:
        return None
    amount = extent * rng.random()
    kind = int(rng.integers(3))  # 0: pan, 1: zoom, 2: both
    t = np.arange(frames, dtype=np.float64) / max(frames - 1, 1)
    ease = (1 - np.cos(math.pi * t)) / 2
    direction = rng.uniform(0, math.tau)
    travel = amount * scale * (kind != 1) * np.array([math.cos(direction), math.sin(direction)])
    pan = (ease[:, None] - 0.5) * travel
    zoom_in = rng.random() < 0.5
    zoom = 1 + amount * (kind != 0) * (ease if zoom_in else 1 - ease)
    return np.concatenate([pan, zoom[:, None]], axis=1)


def sample_scene(
    rng: np.random.Generator,
    style: SynthStyle,
    timeline: Timeline,
    difficulty: float,
) -> Scene:
    """Everything in a video but the pixel noise; ``difficulty`` scales the clutter (0..1)."""
    frames = len(timeline.cycles)
    width, height = style.size
    scale = min(width, height)
    extent = np.array([width, height]) / scale
    shake_px = round(style.shake * difficulty * rng.random() * scale)
    camera = camera_path(rng, frames, style.camera_motion * difficulty, scale)
    # The background reaches as far as shake and pan take the view, and a pixel further for
    # the interpolation a moving camera needs.
    margin = shake_px
    if camera is not None:
        margin += math.ceil(float(np.abs(camera[:, :2]).max())) + 1
    background, value, backdrop = _background(rng, style, height + 2 * margin, width + 2 * margin)

    rich = rng.random() < difficulty
    actors = int(rng.integers(1, style.max_actors + 1)) if rich else 1
    motions = [str(rng.choice(style.motions)) for _ in range(actors)]
    shapes = [str(rng.choice(style.shapes)) for _ in range(actors)]
    anchor = extent * rng.uniform(0.35, 0.65, 2)
    start = int(np.argmax(timeline.period > 0)) if timeline.period.any() else frames
    end = start + int(np.count_nonzero(timeline.period))
    glide = _glide(rng, frames, start, end)
    phase = math.tau * timeline.cycles
    sprites = [
        actor(
            rng,
            style,
            phase,
            anchor + (rng.uniform(-0.22, 0.22, 2) if index else 0),
            motion,
            shape,
            value,
        )
        for index, (motion, shape) in enumerate(zip(motions, shapes, strict=True))
    ]
    for sprite in sprites:
        sprite.center[:] += glide
    distractors = int(rng.integers(0, round(style.max_distractors * difficulty) + 1))
    sprites += [distractor(rng, style, frames, extent, value) for _ in range(distractors)]
    order = rng.permutation(len(sprites))

    shake = np.rint(smooth_walk(rng, frames, 2, smooth=3) * shake_px).astype(np.int64)
    flicker = style.flicker * difficulty * rng.random()
    gain = (1 + flicker * smooth_walk(rng, frames, 1, smooth=9)[:, 0]).astype(np.float32)
    return Scene(
        width=width,
        height=height,
        background=background,
        margin=margin,
        shake=shake,
        gain=gain,
        noise=style.noise * difficulty * rng.random(),
        sprites=tuple(sprites[i] for i in order),
        timeline=timeline,
        motion=motions[0],
        shape=shapes[0],
        backdrop=backdrop,
        camera=camera,
    )
