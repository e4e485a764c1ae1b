"""Repetition videos: the QUVA-layout reader (with its decode cache) and the synthetic generator."""

from autocompress.data.cache import VideoCache, default_cache_dir
from autocompress.data.decode import UnreadableVideo, decode_video
from autocompress.data.quva import QuvaDataset, Subset, VideoItem
from autocompress.data.synthetic import (
    SynthStyle,
    TrainingClip,
    generate_dataset,
    make_training_clip,
)

__all__ = [
    "QuvaDataset",
    "Subset",
    "SynthStyle",
    "TrainingClip",
    "UnreadableVideo",
    "VideoCache",
    "VideoItem",
    "decode_video",
    "default_cache_dir",
    "generate_dataset",
    "make_training_clip",
]
