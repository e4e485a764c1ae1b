"""Procedural repetition videos, deterministic per seed: the data the tool runs on without QUVA.

A *scene* is sampled first (every per-frame trajectory, colour and camera offset as arrays), then
rendered in chunks with vectorised numpy, so long videos never sit in memory as floats and the
same sampler also yields labelled training clips (:func:`make_training_clip`).

Every video has one *actor*: one or more shapes driven by a shared repetition phase (swinging,
orbiting, bouncing, pulsing, pendulum swings, colour cycles, with a slowly drifting tempo).
Around it: a textured or photographic background, non-periodic distractor shapes (any shape
maybe textured with a photograph), camera shake and a slow pan or zoom, flicker, pixel noise,
and a lead-in/out where the actor glides in or away without repeating. Annotations follow
QUVA: the frame indices where each repetition ends, so the count is the number of completed ones.

The pieces, bottom up: ``style`` (the knobs, colours), ``timeline`` (when and how fast it
repeats), ``sprites`` (actor motions, distractors), ``scene`` (sampling everything), ``render``
(pixels, training clips) and ``dataset`` (video + annotation files). A style may offer several
frame sizes, rates and codecs; each video of a set draws its own (``VARIED_STYLE``,
``VARIED_TEST_STYLE``).
"""

from autocompress.data.synthetic.dataset import (
    CONTAINERS,
    SynthVideo,
    generate_dataset,
    write_video,
)
from autocompress.data.synthetic.render import TrainingClip, make_training_clip
from autocompress.data.synthetic.style import (
    CODECS,
    HELD_OUT_STYLE,
    MOTIONS,
    SHAPES,
    VARIED_STYLE,
    VARIED_TEST_STYLE,
    SynthStyle,
)

__all__ = [
    "CODECS",
    "CONTAINERS",
    "HELD_OUT_STYLE",
    "MOTIONS",
    "SHAPES",
    "VARIED_STYLE",
    "VARIED_TEST_STYLE",
    "SynthStyle",
    "SynthVideo",
    "TrainingClip",
    "generate_dataset",
    "make_training_clip",
    "write_video",
]
