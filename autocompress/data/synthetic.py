"""Procedural repetition videos, deterministic per seed: the data the tool runs on without QUVA.

A *scene* is sampled first (every per-frame trajectory, colour and camera offset as arrays), then
rendered in chunks with vectorised numpy, so long videos never sit in memory as floats and the
same sampler also yields labelled training clips (:func:`make_training_clip`).

Every video has one *actor*: one or more shapes driven by a shared repetition phase (swinging,
orbiting, bouncing, pulsing, pendulum swings, colour cycles, with a slowly drifting tempo).
Around it: a textured background, non-periodic distractor shapes, camera shake, flicker, pixel
noise, and a lead-in/out where the actor glides in or away without repeating. Annotations follow
QUVA: the frame indices where each repetition ends, so the count is the number of completed ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import av
import numpy as np

from autocompress.data._atomic import atomic_path
from autocompress.errors import UserError

__all__ = [
    "MOTIONS",
    "SHAPES",
    "SynthStyle",
    "SynthVideo",
    "TrainingClip",
    "generate_dataset",
    "make_training_clip",
    "write_video",
]

SHAPES = ("disc", "ring", "square", "bar", "triangle", "cross")
MOTIONS = ("swing", "orbit", "bounce", "pulse", "pendulum", "hue")
_CHUNK = 64  # frames rendered at once
_REACH = 1.2  # farthest point of any shape from its centre, in radii
_TAU = 2 * math.pi


@dataclass(frozen=True)
class SynthStyle:
    """How generated videos look and how long they are; vary it to make held-out sets.

    Amplitudes (``texture``, ``noise``, ``shake``, ``flicker``) are on a 0..1 intensity scale or
    in fractions of the frame's short side, and are the maxima reached at difficulty 1.
    """

    size: tuple[int, int] = (160, 120)  # width, height of written videos
    fps: int = 25
    frames: tuple[int, int] = (64, 400)  # video length range
    periods: tuple[float, float] = (3.0, 96.0)  # frames per repetition (videos)
    shapes: tuple[str, ...] = SHAPES
    motions: tuple[str, ...] = MOTIONS
    shape_radius: tuple[float, float] = (0.07, 0.15)  # of the short side
    hues: tuple[float, float] = (0.0, 1.0)  # hue interval colours are drawn from (wraps at 1)
    saturation: tuple[float, float] = (0.35, 0.9)
    texture: float = 0.18
    noise: float = 0.04
    shake: float = 0.02
    flicker: float = 0.08
    max_actors: int = 3  # shapes repeating in lock-step
    max_distractors: int = 2
    tempo_drift: float = 0.15  # largest relative change of the period across a video
    lead: float = 0.3  # largest share of a video without repetition (lead-in + lead-out)

    def __post_init__(self) -> None:
        width, height = self.size
        problems = []
        if min(width, height) < 16:
            problems.append(f"size must be at least 16x16, got {width}x{height}")
        if self.fps < 1:
            problems.append(f"fps must be >= 1, got {self.fps}")
        if not 1 <= self.frames[0] <= self.frames[1]:
            problems.append(f"frames must be an increasing range >= 1, got {self.frames}")
        if not 2 <= self.periods[0] <= self.periods[1]:
            problems.append(f"periods must be an increasing range >= 2, got {self.periods}")
        unknown = set(self.shapes) - set(SHAPES) or set(self.motions) - set(MOTIONS)
        if unknown or not self.shapes or not self.motions:
            problems.append(f"shapes/motions must be non-empty subsets of {SHAPES}, {MOTIONS}")
        if self.max_actors < 1 or self.max_distractors < 0:
            problems.append("need max_actors >= 1 and max_distractors >= 0")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True)
class TrainingClip:
    """One in-memory clip with per-frame labels, as RepNet is trained on."""

    frames: np.ndarray  # uint8, T x S x S x 3
    period: np.ndarray  # int64, T: frames per repetition, 0 where not periodic
    periodic: np.ndarray  # float32, T: 1 where the clip repeats


@dataclass(frozen=True)
class SynthVideo:
    """What :func:`generate_dataset` wrote for one video."""

    name: str
    frames: int
    count: int
    period: float  # mean frames per repetition


# ---------------------------------------------------------------------------------------------
# Scene description


@dataclass(frozen=True)
class _Timeline:
    """Repetitions over time: ``cycles`` completed at each frame (constant outside the action)."""

    cycles: np.ndarray  # T, float64
    period: np.ndarray  # T, frames per repetition, 0 where not periodic

    @property
    def rep_ends(self) -> np.ndarray:
        """Frame indices where each repetition completes (QUVA annotation)."""
        completed = np.floor(self.cycles + 1e-9).astype(np.int64)
        return np.flatnonzero(np.diff(completed, prepend=0) > 0)


@dataclass(frozen=True)
class _Sprite:
    shape: str
    center: np.ndarray  # T x 2 (x, y) in short-side units
    angle: np.ndarray  # T
    radius: np.ndarray  # T, short-side units
    color: np.ndarray  # T x 3 in 0..1


@dataclass(frozen=True)
class _Scene:
    width: int
    height: int
    background: np.ndarray  # (H + 2 margin) x (W + 2 margin) x 3 float32
    margin: int  # largest camera shake, pixels
    shake: np.ndarray  # T x 2 integer pixel offsets in [-margin, margin]
    gain: np.ndarray  # T, global brightness
    noise: float
    sprites: tuple[_Sprite, ...]
    timeline: _Timeline
    motion: str  # of the first actor, for the video's name
    shape: str


def _timeline(num_frames: int, start: int, end: int, p0: float, p1: float) -> _Timeline:
    """Tempo drifting linearly from period ``p0`` at ``start`` to ``p1`` at ``end``."""
    t = np.clip(np.arange(num_frames, dtype=np.float64), start, end) - start
    span = max(end - start, 1)
    f0, f1 = 1.0 / p0, 1.0 / p1
    cycles = f0 * t + (f1 - f0) * t * t / (2 * span)
    frequency = f0 + (f1 - f0) * t / span
    inside = (np.arange(num_frames) >= start) & (np.arange(num_frames) < end)
    return _Timeline(cycles=cycles, period=np.where(inside, 1.0 / frequency, 0.0))


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorised HSV -> RGB; inputs broadcast, output ... x 3."""
    k = (np.stack(np.broadcast_arrays(h, h, h), -1) * 6 + np.array([5.0, 3.0, 1.0])) % 6
    ramp = np.clip(np.minimum(k, 4 - k), 0, 1)
    return (v[..., None] - v[..., None] * s[..., None] * ramp).astype(np.float32)


def _color(rng: np.random.Generator, style: SynthStyle, value: float) -> np.ndarray:
    hue = (style.hues[0] + rng.random() * ((style.hues[1] - style.hues[0]) % 1 or 1)) % 1
    saturation = rng.uniform(*style.saturation)
    return _hsv_to_rgb(np.array(hue), np.array(saturation), np.array(value))


def _contrasting(rng: np.random.Generator, background_value: float) -> float:
    """A brightness clearly apart from the background's, so shapes stay visible."""
    gap = rng.uniform(0.3, 0.5)
    up = background_value + gap <= 1 or background_value < 0.5
    return float(np.clip(background_value + gap if up else background_value - gap, 0, 1))


def _smooth_walk(rng: np.random.Generator, num_frames: int, dims: int, smooth: int) -> np.ndarray:
    """A wandering, non-periodic path in [-1, 1]: a random walk, box-filtered, normalised."""
    steps = rng.standard_normal((num_frames + smooth, dims))
    walk = np.cumsum(steps, axis=0)
    kernel = np.ones(smooth) / smooth
    walk = np.stack([np.convolve(walk[:, d], kernel, "valid")[:num_frames] for d in range(dims)], 1)
    walk -= walk.mean(axis=0)
    return walk / max(float(np.abs(walk).max()), 1e-6)


def _upsample(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear upsampling of a small gh x gw x C grid, as two interpolation matrices."""

    def weights(cells: int, size: int) -> np.ndarray:
        position = np.linspace(0, cells - 1, size)
        return np.maximum(0, 1 - np.abs(position[:, None] - np.arange(cells)[None, :]))

    rows, cols = weights(grid.shape[0], height), weights(grid.shape[1], width)
    return np.einsum("hg,gkc,wk->hwc", rows, grid, cols).astype(np.float32)


def _background(
    rng: np.random.Generator, style: SynthStyle, height: int, width: int
) -> tuple[np.ndarray, float]:
    """A static texture (colour blotches, value noise, maybe stripes) and its mean brightness."""
    value = rng.uniform(0.15, 0.85)
    base, tint = _color(rng, style, value), _color(rng, style, value)
    blotches = _upsample(rng.uniform(0, 1, (*rng.integers(2, 5, 2), 1)), height, width)
    grain = _upsample(rng.uniform(-1, 1, (*rng.integers(6, 16, 2), 1)), height, width)
    pattern = grain
    if rng.random() < 0.5:
        y, x = np.mgrid[0:height, 0:width].astype(np.float32)
        angle, wavelength = rng.uniform(0, math.pi), rng.uniform(6, 24)
        stripes = np.sin((x * math.cos(angle) + y * math.sin(angle)) * _TAU / wavelength)
        pattern = 0.5 * grain + 0.5 * stripes[..., None]
    texture = style.texture * rng.uniform(0.2, 1.0)
    image = base + (tint - base) * blotches * rng.uniform(0, 0.8) + texture * pattern
    return np.clip(image, 0, 1).astype(np.float32), value


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
    direction = rng.uniform(0, _TAU)
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


# ---------------------------------------------------------------------------------------------
# Sampling a scene


def _actor(
    rng: np.random.Generator,
    style: SynthStyle,
    phase: np.ndarray,
    anchor: np.ndarray,
    motion: str,
    shape: str,
    background_value: float,
) -> _Sprite:
    frames = len(phase)
    phase = phase + rng.uniform(0, _TAU) * (rng.random() < 0.5)
    pose = _Pose(
        center=np.tile(anchor, (frames, 1)),
        angle=np.full(frames, rng.uniform(0, _TAU)),
        radius=np.full(frames, rng.uniform(*style.shape_radius)),
        color=np.tile(_color(rng, style, _contrasting(rng, background_value)), (frames, 1)),
        alternate_color=_color(rng, style, _contrasting(rng, background_value)),
    )
    _MOTIONS[motion](rng, phase, pose)
    modulations = [name for name in ("pulse", "hue") if name in style.motions and name != motion]
    if modulations and rng.random() < 0.5:  # a second change in the same rhythm
        _MOTIONS[str(rng.choice(modulations))](rng, phase, pose)
    return _Sprite(shape, pose.center, pose.angle, pose.radius, pose.color)


def _distractor(
    rng: np.random.Generator,
    style: SynthStyle,
    frames: int,
    extent: np.ndarray,
    background_value: float,
) -> _Sprite:
    """A shape wandering on a smoothed random walk: motion, but no repetition."""
    wander = _smooth_walk(rng, frames, 2, smooth=int(rng.integers(8, 24)))
    center = extent * (0.5 + rng.uniform(0.15, 0.4) * wander)
    spin = rng.uniform(0.5, 3.0) * _smooth_walk(rng, frames, 1, smooth=16)[:, 0]
    color = _color(rng, style, _contrasting(rng, background_value))
    return _Sprite(
        shape=str(rng.choice(style.shapes)),
        center=center,
        angle=rng.uniform(0, _TAU) + spin,
        radius=np.full(frames, rng.uniform(*style.shape_radius) * rng.uniform(0.5, 1.1)),
        color=np.tile(color, (frames, 1)),
    )


def _glide(rng: np.random.Generator, frames: int, start: int, end: int) -> np.ndarray:
    """Offset of the actor outside the action: it slides in before ``start``, away after ``end``."""
    t = np.arange(frames, dtype=np.float64)
    entering = np.clip((start - t) / max(start, 1), 0, 1)
    leaving = np.clip((t - end) / max(frames - 1 - end, 1), 0, 1)
    directions = rng.uniform(0, _TAU, 2)
    distances = rng.uniform(0.15, 0.4, 2)
    vectors = distances[:, None] * np.stack([np.cos(directions), np.sin(directions)], axis=1)
    return entering[:, None] * vectors[0] + leaving[:, None] * vectors[1]


def _sample_scene(
    rng: np.random.Generator,
    style: SynthStyle,
    timeline: _Timeline,
    difficulty: float,
) -> _Scene:
    frames = len(timeline.cycles)
    width, height = style.size
    scale = min(width, height)
    extent = np.array([width, height]) / scale
    shake_px = round(style.shake * difficulty * rng.random() * scale)
    background, value = _background(rng, style, height + 2 * shake_px, width + 2 * shake_px)

    rich = rng.random() < difficulty
    actors = int(rng.integers(1, style.max_actors + 1)) if rich else 1
    motions = [str(rng.choice(style.motions)) for _ in range(actors)]
    shapes = [str(rng.choice(style.shapes)) for _ in range(actors)]
    anchor = extent * rng.uniform(0.35, 0.65, 2)
    start = int(np.argmax(timeline.period > 0)) if timeline.period.any() else frames
    end = start + int(np.count_nonzero(timeline.period))
    glide = _glide(rng, frames, start, end)
    phase = _TAU * timeline.cycles
    sprites = [
        _actor(
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
    sprites += [_distractor(rng, style, frames, extent, value) for _ in range(distractors)]
    order = rng.permutation(len(sprites))

    shake = np.rint(_smooth_walk(rng, frames, 2, smooth=3) * shake_px).astype(np.int64)
    flicker = style.flicker * difficulty * rng.random()
    gain = (1 + flicker * _smooth_walk(rng, frames, 1, smooth=9)[:, 0]).astype(np.float32)
    return _Scene(
        width=width,
        height=height,
        background=background,
        margin=shake_px,
        shake=shake,
        gain=gain,
        noise=style.noise * difficulty * rng.random(),
        sprites=tuple(sprites[i] for i in order),
        timeline=timeline,
        motion=motions[0],
        shape=shapes[0],
    )


# ---------------------------------------------------------------------------------------------
# Rendering


def _draw(canvas: np.ndarray, sprite: _Sprite, t: np.ndarray, shake: np.ndarray) -> None:
    """Composite ``sprite`` into ``canvas`` (frames x H x W x 3, float) in place.

    Only a window around the shape is computed per frame, which keeps small shapes on big
    frames cheap. Near a border the window slides inwards and still covers the visible part;
    anti-aliasing comes from the signed distance (one pixel of blend).
    """
    count, height, width, _ = canvas.shape
    scale = min(height, width)
    radius = (sprite.radius[t] * scale).astype(np.float32)
    side = 2 * math.ceil(float(radius.max()) * _REACH) + 2
    across, down = min(side, width), min(side, height)
    cx = (sprite.center[t, 0] * scale - shake[:, 0]).astype(np.float32)
    cy = (sprite.center[t, 1] * scale - shake[:, 1]).astype(np.float32)
    x0 = np.clip(np.floor(cx).astype(np.int64) - side // 2, 0, width - across)
    y0 = np.clip(np.floor(cy).astype(np.int64) - side // 2, 0, height - down)
    inverse = (1 / radius)[:, None, None]
    dx = (x0[:, None] + np.arange(across) + np.float32(0.5) - cx[:, None])[:, None, :] * inverse
    dy = (y0[:, None] + np.arange(down) + np.float32(0.5) - cy[:, None])[:, :, None] * inverse
    cos = np.cos(sprite.angle[t]).astype(np.float32)[:, None, None]
    sin = np.sin(sprite.angle[t]).astype(np.float32)[:, None, None]
    distance = _OUTLINES[sprite.shape](cos * dx + sin * dy, cos * dy - sin * dx)
    alpha = np.clip(0.5 - distance * radius[:, None, None], 0, 1)[..., None]
    color = sprite.color[t].astype(np.float32)
    for i in range(count):
        patch = canvas[i, y0[i] : y0[i] + down, x0[i] : x0[i] + across]
        patch += alpha[i] * (color[i] - patch)


def _render(scene: _Scene, start: int, stop: int, rng: np.random.Generator) -> np.ndarray:
    """Frames ``start`` to ``stop`` as uint8, frames x H x W x 3."""
    t = np.arange(start, stop)
    shake = scene.shake[t]
    top_left = shake[:, ::-1] + scene.margin
    frames = np.stack(
        [scene.background[y : y + scene.height, x : x + scene.width] for y, x in top_left]
    )
    for sprite in scene.sprites:
        _draw(frames, sprite, t, shake)
    frames *= (scene.gain[t] * 255)[:, None, None, None]
    if scene.noise > 0:
        noise = rng.standard_normal((len(t), scene.height, scene.width, 1), np.float32)
        frames += noise * np.float32(scene.noise * 255)
    frames += 0.5
    return np.clip(frames, 0, 255, out=frames).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# Public entry points


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
    lead = 0
    if rng.random() < difficulty:
        lead = int(rng.uniform(0, style.lead * difficulty) * num_frames)
    action = num_frames - lead
    high = min(32.0, style.periods[1], action / 2)
    low = min(max(2.0, style.periods[0]), high)
    first = _log_uniform(rng, low, high)
    drift = 1 + rng.uniform(-1, 1) * style.tempo_drift * difficulty
    last = float(np.clip(first * drift, low, high))
    start = int(rng.integers(0, lead + 1))
    if rng.random() < 0.1 * difficulty:
        start = action = num_frames  # nothing repeats
    timeline = _timeline(num_frames, start, min(start + action, num_frames), first, last)
    scene = _sample_scene(rng, style, timeline, difficulty)
    period = np.rint(timeline.period).astype(np.int64)
    return TrainingClip(
        frames=_render(scene, 0, num_frames, rng),
        period=period,
        periodic=(period > 0).astype(np.float32),
    )


def _video_timeline(rng: np.random.Generator, style: SynthStyle) -> _Timeline:
    """Length, tempo and placement of the action of one video (at least two repetitions)."""
    low, high = style.periods
    first = _log_uniform(rng, low, high)
    last = float(np.clip(first * (1 + rng.uniform(-1, 1) * style.tempo_drift), low, high))
    mean_period = 2 / (1 / first + 1 / last)
    lead_share = rng.uniform(0, style.lead)
    shortest, longest = style.frames
    most = max(2, min(50, int(longest * (1 - lead_share) / mean_period)))
    fewest = min(most, max(2, math.ceil(shortest * (1 - lead_share) / mean_period)))
    repetitions = int(rng.integers(fewest, most + 1))
    action = math.ceil((repetitions + rng.uniform(0, 0.7)) * mean_period)
    total = max(action, min(longest, max(shortest, round(action / (1 - lead_share)))))
    start = int(rng.integers(0, total - action + 1))
    return _timeline(total, start, start + action, first, last)


def write_video(
    path: Path, chunks: Iterator[np.ndarray], fps: int, width: int, height: int
) -> None:
    """Encode RGB uint8 chunks (frames x H x W x 3) as H.264 in mp4, atomically.

    yuv420p where both sides are even (what every player reads); yuv444p otherwise, since
    4:2:0 cannot hold odd sizes.
    """
    with atomic_path(path) as temporary, av.open(str(temporary), "w", format="mp4") as output:
        # No macroblock tree: with it this libx264 encodes the same frames to other bytes from
        # run to run, even on one thread (decoded pixels differed by up to 57 levels), so a
        # seeded data set would not be the same set, nor the MAE measured on it.
        options = {"crf": "18", "preset": "fast", "x264-params": "no-mbtree=1"}
        stream = output.add_stream("libx264", rate=fps, options=options)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        for chunk in chunks:
            for frame in chunk:
                output.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        output.mux(stream.encode())


def _prepare(out: Path, overwrite: bool) -> None:
    """Refuse to mix a new set into existing videos unless told to replace them."""
    existing = [
        path
        for folder in (out / "videos", out / "annotations")
        if folder.is_dir()
        for path in folder.iterdir()
        if path.is_file()
    ]
    if existing and not overwrite:
        raise UserError(
            f"{out} already holds {len(existing)} video/annotation files; "
            "choose an empty directory or pass --overwrite to replace them"
        )
    for path in existing:
        path.unlink()


def generate_dataset(
    out: str | Path,
    videos: int,
    seed: int = 0,
    style: SynthStyle = SynthStyle(),
    overwrite: bool = False,
    progress: bool = False,
) -> list[SynthVideo]:
    """Write ``videos`` videos and annotations under ``out`` in the QUVA layout.

    Video ``i`` depends only on ``(seed, i)``, so a bigger set extends a smaller one.
    """
    from tqdm import tqdm

    out = Path(out)
    _prepare(out, overwrite)
    digits = max(3, len(str(videos - 1)))
    written = []
    for index in tqdm(range(videos), desc="generating", unit="video", disable=not progress):
        rng = np.random.default_rng([seed, index])
        timeline = _video_timeline(rng, style)
        scene = _sample_scene(rng, style, timeline, difficulty=1.0)
        name = f"{index:0{digits}d}_{scene.motion}_{scene.shape}"
        total = len(timeline.cycles)
        chunks = (_render(scene, s, min(s + _CHUNK, total), rng) for s in range(0, total, _CHUNK))
        write_video(out / "videos" / f"{name}.mp4", chunks, style.fps, *style.size)
        annotation = timeline.rep_ends
        with (
            atomic_path(out / "annotations" / f"{name}.npy") as temporary,
            open(temporary, "wb") as file,
        ):
            np.save(file, annotation)
        active = timeline.period[timeline.period > 0]
        written.append(SynthVideo(name, total, len(annotation), float(active.mean())))
    return written
