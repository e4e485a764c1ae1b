"""RepNet's fidelity: how far a compressed RepNet's per-frame outputs move from the
uncompressed model's, with no labels.

Counting reads two outputs per frame: the period-length distribution (a softmax over the
period classes) and the periodicity probability, which gates whether the frame counts at all.
Per frame, the divergence is

- the KL divergence of the compressed model's period distribution from the uncompressed
  model's, weighted by the uncompressed model's periodicity probability: a frame counting
  never reads (no repetition there) may move its period freely without changing a count, and
  such frames, a third of a typical video, made an int8-only model read as far as a pruned one;
- plus the KL divergence of the compressed model's periodicity (a Bernoulli) from the
  uncompressed model's: 0 where they agree, more the more a frame's gate moves.

A video's divergence is the mean over its frames at each stride counting reads, averaged over
the strides (:func:`video_divergence`, from the same forward passes that count it, so a
counted video's fidelity costs no more model time); a clip's is the mean over its frames
(:func:`fidelity`). Unlike MAE and OBO it moves with every change of the outputs, not only with
the ones that change a rounded count, and it compares two models on the same frames, so its
differences between trials are not drowned by how hard the videos happen to be.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from autocompress.models.repnet.counting import StrideOutputs, chunk_indices
from autocompress.models.repnet.quva_accuracy import _inference_mode

__all__ = [
    "FIDELITY_STRIDES",
    "clip_divergences",
    "fidelity",
    "frame_divergence",
    "repnet_outputs",
    "video_clips",
    "video_divergence",
]

# Strides the clips of a video are cut at: the two that count most videos (short periods).
FIDELITY_STRIDES = (1, 2)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _log_sigmoid(logits: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -logits)


def frame_divergence(reference: StrideOutputs, outputs: StrideOutputs) -> np.ndarray:
    """Per frame: how far ``outputs`` are from the uncompressed model's ``reference`` on the
    same frames (module notes); 0 for identical outputs."""
    ref_period = _log_softmax(reference.period_logits.astype(np.float64))
    out_period = _log_softmax(outputs.period_logits.astype(np.float64))
    period_kl = (np.exp(ref_period) * (ref_period - out_period)).sum(-1)
    ref_on, ref_off = (
        _log_sigmoid(s * reference.periodicity_logits.astype(np.float64)) for s in (1, -1)
    )
    out_on, out_off = (
        _log_sigmoid(s * outputs.periodicity_logits.astype(np.float64)) for s in (1, -1)
    )
    periodic = np.exp(ref_on)
    gate_kl = periodic * (ref_on - out_on) + (1 - periodic) * (ref_off - out_off)
    return periodic * period_kl + gate_kl


def video_divergence(
    reference: Mapping[int, StrideOutputs], outputs: Mapping[int, StrideOutputs]
) -> float:
    """One video's divergence: each stride's mean over its frames, averaged over the strides
    both were run at (:func:`autocompress.models.repnet.counting.stride_outputs`)."""
    strides = sorted(set(reference) & set(outputs))
    if not strides:
        raise ValueError("the two models' outputs share no stride")
    return float(np.mean([frame_divergence(reference[s], outputs[s]).mean() for s in strides]))


def video_clips(
    frames: torch.Tensor, strides: tuple[int, ...] = FIDELITY_STRIDES, num_frames: int = 64
) -> torch.Tensor:
    """Every ``num_frames``-frame chunk of ``frames`` (T x 3 x H x W, model input) at each
    stride, cut as counting cuts them: clips x 3 x num_frames x H x W."""
    rows = np.concatenate([chunk_indices(len(frames), s, num_frames) for s in strides])
    return frames[torch.from_numpy(rows)].transpose(1, 2)


@torch.no_grad()
def repnet_outputs(
    model: nn.Module, clips: torch.Tensor, batch_size: int = 8
) -> list[StrideOutputs]:
    """``model``'s per-frame outputs on each of ``clips`` (N x 3 x T x H x W), in eval mode,
    ``batch_size`` clips at a time; an eager RepNet or a compressed one (an int8 graph) alike."""
    outputs = []
    with _inference_mode(model):
        for start in range(0, len(clips), batch_size):
            period, periodicity, _ = model(clips[start : start + batch_size])
            for clip_period, clip_periodicity in zip(period, periodicity, strict=True):
                outputs.append(
                    StrideOutputs(
                        clip_period.float().numpy(), clip_periodicity[:, 0].float().numpy()
                    )
                )
    return outputs


def fidelity(
    teacher: nn.Module, student: nn.Module, clips: torch.Tensor, batch_size: int = 8
) -> np.ndarray:
    """Per clip of ``clips``: how far ``student``'s outputs are from ``teacher``'s (0: the
    same outputs)."""
    return clip_divergences(
        repnet_outputs(teacher, clips, batch_size), repnet_outputs(student, clips, batch_size)
    )


def clip_divergences(reference: list[StrideOutputs], outputs: list[StrideOutputs]) -> np.ndarray:
    """Per clip: the mean of :func:`frame_divergence` over its frames, from two models'
    outputs on the same clips (:func:`repnet_outputs`)."""
    pairs = zip(reference, outputs, strict=True)
    return np.asarray([frame_divergence(ref, out).mean() for ref, out in pairs])
