"""The shapes in a scene: the repeating actor and its motions, and the wandering distractors.

Every sprite is sampled up front as per-frame arrays, so rendering is pure drawing and any
chunk of frames can be rendered alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from autocompress.data.synthetic.photos import PHOTOS, photo_crop
from autocompress.data.synthetic.style import SynthStyle, color, contrasting

TEXTURE_SIZE = 64  # pixels across a sprite's photo texture


@dataclass(frozen=True)
class Sprite:
    shape: str
    center: np.ndarray  # T x 2 (x, y) in short-side units
    angle: np.ndarray  # T
    radius: np.ndarray  # T, short-side units
    color: np.ndarray  # T x 3 in 0..1
    # A photograph's detail (zero mean per channel, S x S x 3) added to the colour inside the
    # shape, in the shape's own frame (it turns and scales with it); None: flat colour.
    texture: np.ndarray | None = None


def photo_texture(rng: np.random.Generator, style: SynthStyle) -> np.ndarray | None:
    """A sprite's texture: for ``style.sprite_photo_share`` of sprites the detail of a crop of
    a shipped photograph around its mean, so the sprite keeps its colour (and its contrast with
    the background) but gains edges and grain; None for the others. Draws nothing from ``rng``
    when the share is 0, so flat styles sample the same scenes as before the knob existed."""
    if style.sprite_photo_share == 0 or rng.random() >= style.sprite_photo_share:
        return None
    crop = photo_crop(rng, str(rng.choice(PHOTOS)), TEXTURE_SIZE, TEXTURE_SIZE)
    return (crop - crop.mean(axis=(0, 1))).astype(np.float32)


def smooth_walk(rng: np.random.Generator, num_frames: int, dims: int, smooth: int) -> np.ndarray:
    """A wandering, non-periodic path in [-1, 1]: a random walk, box-filtered, normalised."""
    steps = rng.standard_normal((num_frames + smooth, dims))
    walk = np.cumsum(steps, axis=0)
    kernel = np.ones(smooth) / smooth
    walk = np.stack([np.convolve(walk[:, d], kernel, "valid")[:num_frames] for d in range(dims)], 1)
    walk -= walk.mean(axis=0)
    return walk / max(float(np.abs(walk).max()), 1e-6)


# ---------------------------------------------------------------------------------------------
# Motions: each edits an actor's per-frame arrays in place, driven by its phase (radians).

_Motion = Callable[[np.random.Generator, np.ndarray, "_Pose"], None]


@dataclass
class _Pose:
    """Mutable per-frame state of one shape while its motions are applied."""

    center: np.ndarray
    angle: np.ndarray
    radius: np.ndarray
    color: np.ndarray
    alternate_color: np.ndarray  # the other end of a colour cycle


def _swing(rng: np.random.Generator, phase: np.ndarray, pose: _Pose) -> None:
    direction = rng.uniform(0, math.tau)
    amplitude = rng.uniform(0.08, 0.22)
    pose.center += amplitude * np.sin(phase)[:, None] * [math.cos(direction), math.sin(direction)]


def _orbit(rng: np.random.Generator, phase: np.ndarray, pose: _Pose) -> None:
    radius = rng.uniform(0.06, 0.2)
    squash = rng.uniform(0.4, 1.0) * rng.choice([-1, 1])
    pose.center += radius * np.stack([np.cos(phase), squash * np.sin(phase)], axis=1)


def _bounce(rng: np.random.Generator, phase: np.ndarray, pose: _Pose) -> None:
    pose.center[:, 1] -= rng.uniform(0.12, 0.3) * np.abs(np.sin(phase / 2))


def _pulse(rng: np.random.Generator, phase: np.ndarray, pose: _Pose) -> None:
    pose.radius *= 1 + rng.uniform(0.3, 0.6) * np.sin(phase)


def _pendulum(rng: np.random.Generator, phase: np.ndarray, pose: _Pose) -> None:
    swing = rng.uniform(0.5, 1.2) * np.sin(phase)
    arm = rng.uniform(0.12, 0.28)
    pose.center += arm * np.stack([np.sin(swing), np.cos(swing) - 1], axis=1)
    pose.angle += swing


def _hue(rng: np.random.Generator, phase: np.ndarray, pose: _Pose) -> None:
    mix = ((1 - np.cos(phase)) / 2)[:, None]
    pose.color += (pose.alternate_color - pose.color) * mix


_MOTIONS: dict[str, _Motion] = {
    "swing": _swing,
    "orbit": _orbit,
    "bounce": _bounce,
    "pulse": _pulse,
    "pendulum": _pendulum,
    "hue": _hue,
}


# ---------------------------------------------------------------------------------------------
# Sampling sprites


def actor(
    rng: np.random.Generator,
    style: SynthStyle,
    phase: np.ndarray,
    anchor: np.ndarray,
    motion: str,
    shape: str,
    background_value: float,
) -> Sprite:
    """A shape repeating ``motion`` in step with ``phase``, maybe pulsing or cycling colour too."""
    frames = len(phase)
    phase = phase + rng.uniform(0, math.tau) * (rng.random() < 0.5)
    pose = _Pose(
        center=np.tile(anchor, (frames, 1)),
        angle=np.full(frames, rng.uniform(0, math.tau)),
        radius=np.full(frames, rng.uniform(*style.shape_radius)),
        color=np.tile(color(rng, style, contrasting(rng, background_value)), (frames, 1)),
        alternate_color=color(rng, style, contrasting(rng, background_value)),
    )
    _MOTIONS[motion](rng, phase, pose)
    modulations = [name for name in ("pulse", "hue") if name in style.motions and name != motion]
    if modulations and rng.random() < 0.5:  # a second change in the same rhythm
        _MOTIONS[str(rng.choice(modulations))](rng, phase, pose)
    texture = photo_texture(rng, style)
    return Sprite(shape, pose.center, pose.angle, pose.radius, pose.color, texture)


def distractor(
    rng: np.random.Generator,
    style: SynthStyle,
    frames: int,
    extent: np.ndarray,
    background_value: float,
) -> Sprite:
    """A shape wandering on a smoothed random walk: motion, but no repetition."""
    wander = smooth_walk(rng, frames, 2, smooth=int(rng.integers(8, 24)))
    center = extent * (0.5 + rng.uniform(0.15, 0.4) * wander)
    spin = rng.uniform(0.5, 3.0) * smooth_walk(rng, frames, 1, smooth=16)[:, 0]
    fill = color(rng, style, contrasting(rng, background_value))
    return Sprite(
        shape=str(rng.choice(style.shapes)),
        center=center,
        angle=rng.uniform(0, math.tau) + spin,
        radius=np.full(frames, rng.uniform(*style.shape_radius) * rng.uniform(0.5, 1.1)),
        color=np.tile(fill, (frames, 1)),
        texture=photo_texture(rng, style),
    )
