"""What generated videos look like: the style knobs and the colours drawn from them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHAPES = ("disc", "ring", "square", "bar", "triangle", "cross")
MOTIONS = ("swing", "orbit", "bounce", "pulse", "pendulum", "hue")
# Encoders videos may be written with (each checked to write here and decode back through PyAV):
# H.264 and H.265 in mp4, MPEG-4 part 2 in mp4 (even frame sides only), VP9 in webm.
CODECS = ("libx264", "libx265", "mpeg4", "libvpx-vp9")


@dataclass(frozen=True)
class SynthStyle:
    """How generated videos look and how long they are; vary it to make held-out sets.

    Amplitudes (``texture``, ``noise``, ``shake``, ``flicker``) are on a 0..1 intensity scale or
    in fractions of the frame's short side, and are the maxima reached at difficulty 1.
    """

    size: tuple[int, int] = (160, 120)  # width, height of written videos (or see ``sizes``)
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
    # Share of videos (and training clips) whose background is a photograph's crop instead of
    # a flat texture (autocompress.data.synthetic.photos), and the range of its contrast: the
    # photo's detail around the background's brightness is scaled by a value drawn from it.
    photo_share: float = 0.5
    photo_contrast: tuple[float, float] = (0.3, 0.8)
    crf: int = 18  # x264's constant rate factor of written videos: higher, blockier
    # Real footage comes in many formats: each video of a set draws its own frame size, frame
    # rate and codec from these choices (empty: the one ``size`` / ``fps``). ``crf`` is mapped
    # onto each codec's own quality scale (autocompress.data.synthetic.dataset).
    sizes: tuple[tuple[int, int], ...] = ()
    fps_choices: tuple[int, ...] = ()
    codecs: tuple[str, ...] = ("libx264",)
    # Share of shapes (actors and distractors) filled with a photograph's crop, its detail
    # around the shape's colour, instead of that flat colour: real objects are textured.
    sprite_photo_share: float = 0.0
    # Largest slow pan (in short sides) and zoom (relative: 1 + it) of the camera across one
    # video, on top of the shake; each video draws its own up to this, scaled by difficulty.
    camera_motion: float = 0.0

    @property
    def size_choices(self) -> tuple[tuple[int, int], ...]:
        """The frame sizes a video may get: ``sizes``, or just ``size``."""
        return self.sizes or (self.size,)

    @property
    def fps_options(self) -> tuple[int, ...]:
        """The frame rates a video may get: ``fps_choices``, or just ``fps``."""
        return self.fps_choices or (self.fps,)

    def __post_init__(self) -> None:
        problems = [
            f"{name} takes a tuple of choices, got {getattr(self, name)!r}"
            for name in ("sizes", "fps_choices", "codecs")
            if not isinstance(getattr(self, name), tuple)
        ]
        if problems:  # the checks below would fail on it in less clear ways
            raise ValueError("; ".join(problems))
        pairs = all(
            isinstance(size, tuple | list) and len(size) == 2 for size in (self.size, *self.sizes)
        )
        if not pairs:
            problems.append(
                f"size and sizes take (width, height) pairs, got {self.size}, {self.sizes}"
            )
        else:
            small = [f"{w}x{h}" for w, h in self.size_choices if min(w, h) < 16]
            if small:
                problems.append(f"size must be at least 16x16, got {', '.join(small)}")
        if min(self.fps_options) < 1:
            problems.append(f"fps must be >= 1, got {self.fps_options}")
        unknown_codecs = set(self.codecs) - set(CODECS)
        if not self.codecs or unknown_codecs:
            problems.append(f"codecs must be a non-empty subset of {CODECS}, got {self.codecs}")
        if pairs and "mpeg4" in self.codecs:
            odd = [f"{w}x{h}" for w, h in self.size_choices if w % 2 or h % 2]
            if odd:
                problems.append(f"mpeg4 writes only even frame sides (4:2:0), got {', '.join(odd)}")
        if not 1 <= self.frames[0] <= self.frames[1]:
            problems.append(f"frames must be an increasing range >= 1, got {self.frames}")
        if not 2 <= self.periods[0] <= self.periods[1]:
            problems.append(f"periods must be an increasing range >= 2, got {self.periods}")
        unknown = set(self.shapes) - set(SHAPES) or set(self.motions) - set(MOTIONS)
        if unknown or not self.shapes or not self.motions:
            problems.append(f"shapes/motions must be non-empty subsets of {SHAPES}, {MOTIONS}")
        if self.max_actors < 1 or self.max_distractors < 0:
            problems.append("need max_actors >= 1 and max_distractors >= 0")
        if not 0 <= self.photo_share <= 1:
            problems.append(f"photo_share must be in [0, 1], got {self.photo_share}")
        if not 0 <= self.photo_contrast[0] <= self.photo_contrast[1] <= 1:
            problems.append(f"photo_contrast must be a range in [0, 1], got {self.photo_contrast}")
        if not 0 <= self.crf <= 51:
            problems.append(f"crf must be in 0..51 (x264's scale), got {self.crf}")
        if not 0 <= self.sprite_photo_share <= 1:
            problems.append(f"sprite_photo_share must be in [0, 1], got {self.sprite_photo_share}")
        if not 0 <= self.camera_motion <= 1:
            problems.append(f"camera_motion must be in [0, 1], got {self.camera_motion}")
        if problems:
            raise ValueError("; ".join(problems))


# The look of a synthetic test set: wider frames, another frame rate, blockier encoding, so its
# scores say how a model chosen on the default look does on videos it was not chosen on.
HELD_OUT_STYLE = SynthStyle(size=(224, 126), fps=30, crf=28)

# Videos as varied as real ones, for selection, calibration and recovery: photographs behind
# and on the shapes, a slowly panning or zooming camera, and per video one of several frame
# sizes (4:3, square, CIF), rates and codecs.
VARIED_STYLE = SynthStyle(
    size=(160, 120),
    sizes=((160, 120), (128, 128), (176, 144)),
    fps_choices=(15, 24, 25),
    codecs=("libx264", "mpeg4"),
    sprite_photo_share=0.5,
    camera_motion=0.15,
)

# The varied test look: it differs from VARIED_STYLE in more than its seed, so test scores say
# how a model chosen on that look does on footage it was not chosen on: other sizes (16:9,
# portrait) and rates, other codecs, blockier encoding, more photographs, a camera that moves
# twice as far, more shake and tempo drift.
VARIED_TEST_STYLE = SynthStyle(
    frames=(64, 240),  # shorter: a test set needs many videos more than long ones
    size=(224, 126),
    sizes=((224, 126), (120, 160), (192, 144)),
    fps=30,
    fps_choices=(12, 20, 30),
    codecs=("libx265", "libvpx-vp9", "libx264"),
    crf=26,
    photo_share=0.75,
    sprite_photo_share=0.75,
    camera_motion=0.3,
    shake=0.03,
    tempo_drift=0.25,
)


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorised HSV -> RGB; inputs broadcast, output ... x 3."""
    k = (np.stack(np.broadcast_arrays(h, h, h), -1) * 6 + np.array([5.0, 3.0, 1.0])) % 6
    ramp = np.clip(np.minimum(k, 4 - k), 0, 1)
    return (v[..., None] - v[..., None] * s[..., None] * ramp).astype(np.float32)


def color(rng: np.random.Generator, style: SynthStyle, value: float) -> np.ndarray:
    """An RGB colour of brightness ``value`` with hue and saturation from the style's ranges."""
    hue = (style.hues[0] + rng.random() * ((style.hues[1] - style.hues[0]) % 1 or 1)) % 1
    saturation = rng.uniform(*style.saturation)
    return _hsv_to_rgb(np.array(hue), np.array(saturation), np.array(value))


def contrasting(rng: np.random.Generator, background_value: float) -> float:
    """A brightness clearly apart from the background's, so shapes stay visible."""
    gap = rng.uniform(0.3, 0.5)
    up = background_value + gap <= 1 or background_value < 0.5
    return float(np.clip(background_value + gap if up else background_value - gap, 0, 1))
