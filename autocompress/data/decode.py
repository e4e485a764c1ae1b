"""Decoding any video FFmpeg reads into RepNet-sized frames.

Frames are squashed to ``size`` x ``size`` (RepNet's official demo resizes without keeping the
aspect ratio) with antialiased bilinear resampling, and kept as uint8 so they cache small;
:func:`to_model_input` makes the float input in [-1, 1] only when a model needs it.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F

from autocompress.errors import UserError

__all__ = ["UnreadableVideo", "decode_video", "to_model_input"]

_BATCH = 64  # frames resized at once: bounds memory on long, large videos
_MIN_DECODED_SHARE = 0.9  # fewer decoded frames than this share of the declared ones: truncated


class UnreadableVideo(UserError):
    """A video file FFmpeg cannot decode (corrupt, truncated, no video stream)."""


def _resize(frames: list[np.ndarray], size: int) -> np.ndarray:
    """H x W x 3 uint8 frames of one shape -> N x 3 x size x size uint8."""
    batch = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float()
    if batch.shape[-2:] != (size, size):
        batch = F.interpolate(
            batch, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
    return batch.round_().clamp_(0, 255).to(torch.uint8).numpy()


def decode_video(path: Path, size: int) -> np.ndarray:
    """Every frame of the first video stream of ``path``: uint8, T x 3 x size x size.

    Raises :class:`UnreadableVideo` when FFmpeg fails, when there is no video stream or no
    frame, or when far fewer frames decode than the container declares (a cut-off file).
    """
    resized: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise UnreadableVideo(f"{path}: no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            declared = stream.frames
            for frame in container.decode(stream):
                image = frame.to_ndarray(format="rgb24")
                if pending and (len(pending) == _BATCH or image.shape != pending[0].shape):
                    resized.append(_resize(pending, size))
                    pending = []
                pending.append(image)
    except av.FFmpegError as error:
        raise UnreadableVideo(f"{path}: cannot decode ({error})") from error
    if pending:
        resized.append(_resize(pending, size))
    decoded = sum(len(part) for part in resized)
    if decoded == 0:
        raise UnreadableVideo(f"{path}: no frames")
    if decoded < _MIN_DECODED_SHARE * declared:
        raise UnreadableVideo(f"{path}: truncated ({decoded} of {declared} frames decode)")
    return np.concatenate(resized)


def to_model_input(frames: np.ndarray) -> torch.Tensor:
    """uint8 T x 3 x H x W -> float32 in [-1, 1], as RepNet takes it."""
    return torch.from_numpy(frames).float().div_(127.5).sub_(1.0)
