"""Drawing a sampled scene into uint8 frames, a chunk of frames at a time, with vectorised numpy.

Chunks keep long videos from ever sitting in memory as floats; a training clip is one chunk.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from autocompress.data.synthetic.scene import Scene, sample_scene
from autocompress.data.synthetic.sprites import Sprite
from autocompress.data.synthetic.style import SynthStyle
from autocompress.data.synthetic.timeline import clip_timeline

_REACH = 1.2  # farthest point of any shape from its centre, in radii

# Signed distance to each outline, in radii (negative inside): vectorised over frames and pixels.
_OUTLINES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "disc": lambda u, v: np.hypot(u, v) - 1,
    "ring": lambda u, v: np.abs(np.hypot(u, v) - 0.7) - 0.3,
    "square": lambda u, v: np.maximum(np.abs(u), np.abs(v)) - 0.8,
    "bar": lambda u, v: np.maximum(np.abs(u) - 1.1, np.abs(v) - 0.3),
    "triangle": lambda u, v: (
        np.maximum(np.maximum(-v, 0.866 * u + 0.5 * v), -0.866 * u + 0.5 * v) - 0.5
    ),
    "cross": lambda u, v: np.minimum(
        np.maximum(np.abs(u) - 1, np.abs(v) - 0.3), np.maximum(np.abs(u) - 0.3, np.abs(v) - 1)
    ),
}


@dataclass(frozen=True)
class TrainingClip:
    """One in-memory clip with per-frame labels, as RepNet is trained on."""

    frames: np.ndarray  # uint8, T x S x S x 3
    period: np.ndarray  # int64, T: frames per repetition, 0 where not periodic
    periodic: np.ndarray  # float32, T: 1 where the clip repeats


def _fill(sprite: Sprite, t: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The colour inside ``sprite`` at its own coordinates ``u``, ``v`` (radii, frames x down
    x across): its colour per frame, plus its photo texture's detail (nearest texel) if any."""
    color = sprite.color[t].astype(np.float32)
    if sprite.texture is None:
        return color[:, None, None, :]
    texels = sprite.texture.shape[0]
    to_texel = np.float32(texels / (2 * _REACH))
    column = np.clip(((u + _REACH) * to_texel).astype(np.int64), 0, texels - 1)
    row = np.clip(((v + _REACH) * to_texel).astype(np.int64), 0, texels - 1)
    return np.clip(color[:, None, None, :] + sprite.texture[row, column], 0, 1)


def _draw(
    canvas: np.ndarray,
    sprite: Sprite,
    t: np.ndarray,
    offset: np.ndarray,
    zoom: np.ndarray | None = None,
) -> None:
    """Composite ``sprite`` into ``canvas`` (frames x H x W x 3, float) in place, seen by a
    camera moved by ``offset`` (frames x 2 pixels) and zoomed by ``zoom`` (frames; None: 1).

    Only a window around the shape is computed per frame, which keeps small shapes on big
    frames cheap. Near a border the window slides inwards and still covers the visible part;
    anti-aliasing comes from the signed distance (one pixel of blend).
    """
    count, height, width, _ = canvas.shape
    scale = min(height, width)
    radius = sprite.radius[t] * scale
    cx = sprite.center[t, 0] * scale - offset[:, 0]
    cy = sprite.center[t, 1] * scale - offset[:, 1]
    if zoom is not None:  # about the frame's centre
        radius, cx, cy = (
            radius * zoom,
            (cx - width / 2) * zoom + width / 2,
            (cy - height / 2) * zoom + height / 2,
        )
    radius, cx, cy = (value.astype(np.float32) for value in (radius, cx, cy))
    side = 2 * math.ceil(float(radius.max()) * _REACH) + 2
    across, down = min(side, width), min(side, height)
    x0 = np.clip(np.floor(cx).astype(np.int64) - side // 2, 0, width - across)
    y0 = np.clip(np.floor(cy).astype(np.int64) - side // 2, 0, height - down)
    inverse = (1 / radius)[:, None, None]
    dx = (x0[:, None] + np.arange(across) + np.float32(0.5) - cx[:, None])[:, None, :] * inverse
    dy = (y0[:, None] + np.arange(down) + np.float32(0.5) - cy[:, None])[:, :, None] * inverse
    cos = np.cos(sprite.angle[t]).astype(np.float32)[:, None, None]
    sin = np.sin(sprite.angle[t]).astype(np.float32)[:, None, None]
    u, v = cos * dx + sin * dy, cos * dy - sin * dx
    distance = _OUTLINES[sprite.shape](u, v)
    alpha = np.clip(0.5 - distance * radius[:, None, None], 0, 1)[..., None]
    fill = _fill(sprite, t, u, v)
    for i in range(count):
        patch = canvas[i, y0[i] : y0[i] + down, x0[i] : x0[i] + across]
        patch += alpha[i] * (fill[i] - patch)


def _view(scene: Scene, t: np.ndarray) -> np.ndarray:
    """The background as the camera sees it in frames ``t``: a window moved by the shake (whole
    pixels, a crop) or, when the camera moves, panned and zoomed (bilinear resampling)."""
    shake = scene.shake[t]
    if scene.camera is None:
        top_left = shake[:, ::-1] + scene.margin
        return np.stack(
            [scene.background[y : y + scene.height, x : x + scene.width] for y, x in top_left]
        )
    offset, zoom = scene.camera[t, :2] + shake, scene.camera[t, 2]

    def positions(size: int, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Background index (whole, fraction) under each frame pixel along one axis."""
        centre = size / 2 + shift[:, None] + scene.margin - 0.5
        exact = centre + (np.arange(size) + 0.5 - size / 2) / zoom[:, None]
        whole = np.clip(np.floor(exact).astype(np.int64), 0, None)
        return whole, (exact - whole).astype(np.float32)[..., None]

    rows, down = positions(scene.height, offset[:, 1])
    cols, across = positions(scene.width, offset[:, 0])
    image = scene.background
    last_row, last_col = image.shape[0] - 1, image.shape[1] - 1
    frames = np.empty((len(t), scene.height, scene.width, 3), np.float32)
    for i in range(len(t)):  # whole rows and columns per frame: plain takes, no index grids
        upper = image.take(rows[i], axis=0)
        band = upper + down[i, :, None] * (image.take(np.minimum(rows[i] + 1, last_row), 0) - upper)
        left = band.take(cols[i], axis=1)
        right = band.take(np.minimum(cols[i] + 1, last_col), axis=1)
        frames[i] = left + across[i, None] * (right - left)
    return frames


def render(scene: Scene, start: int, stop: int, rng: np.random.Generator) -> np.ndarray:
    """Frames ``start`` to ``stop`` as uint8, frames x H x W x 3."""
    t = np.arange(start, stop)
    frames = _view(scene, t)
    if scene.camera is None:
        offset, zoom = scene.shake[t], None
    else:
        offset, zoom = scene.camera[t, :2] + scene.shake[t], scene.camera[t, 2]
    for sprite in scene.sprites:
        _draw(frames, sprite, t, offset, zoom)
    frames *= (scene.gain[t] * 255)[:, None, None, None]
    if scene.noise > 0:
        noise = rng.standard_normal((len(t), scene.height, scene.width, 1), np.float32)
        frames += noise * np.float32(scene.noise * 255)
    frames += 0.5
    return np.clip(frames, 0, 255, out=frames).astype(np.uint8)


def make_training_clip(
    rng: np.random.Generator,
    num_frames: int = 64,
    image_size: int = 64,
    difficulty: float = 1.0,
    style: SynthStyle | None = None,
) -> TrainingClip:
    """A labelled clip for training: periods stay within 2..32 frames (RepNet's classes).

    ``difficulty`` in [0, 1] is the most distractors, noise, shake, flicker, tempo drift and
    non-repeating lead-in/out a clip may get; 0 gives one clean shape repeating throughout.
    A few clips at difficulty > 0 do not repeat at all (all labels 0).
    """
    if not 0 <= difficulty <= 1:
        raise ValueError(f"difficulty must be in [0, 1], got {difficulty}")
    style = replace(style or SynthStyle(), size=(image_size, image_size))
    timeline = clip_timeline(rng, style, num_frames, difficulty)
    scene = sample_scene(rng, style, timeline, difficulty)
    period = np.rint(timeline.period).astype(np.int64)
    return TrainingClip(
        frames=render(scene, 0, num_frames, rng),
        period=period,
        periodic=(period > 0).astype(np.float32),
    )
