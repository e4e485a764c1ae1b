"""RepNet's fidelity: how far a compressed RepNet's per-frame outputs move from the
uncompressed model's, on unlabelled clips.

Counting reads two outputs per frame: the period-length distribution (softmax over the period
classes) and the periodicity probability. Per clip, the divergence is the mean over its frames
of the KL divergence of the compressed model's period distribution from the uncompressed
model's, plus the binary cross-entropy of the compressed model's periodicity against the
uncompressed model's probability, less that probability's own entropy (so identical outputs
read 0). These are the terms recovery's distillation minimises (``distillation.py``), read per
clip. Unlike MAE and OBO they need no labels and move with every change of the outputs, not
only with the ones that change a rounded count, so they can be averaged over many clips.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from autocompress.models.repnet.counting import chunk_indices
from autocompress.models.repnet.distillation import distillation_loss
from autocompress.models.repnet.network import RepNetOutput
from autocompress.models.repnet.quva_accuracy import _inference_mode

__all__ = ["FIDELITY_STRIDES", "clip_divergences", "fidelity", "repnet_outputs", "video_clips"]

# Strides the clips of a video are cut at: the two that count most videos (short periods).
FIDELITY_STRIDES = (1, 2)


def video_clips(
    frames: torch.Tensor, strides: tuple[int, ...] = FIDELITY_STRIDES, num_frames: int = 64
) -> torch.Tensor:
    """Every ``num_frames``-frame chunk of ``frames`` (T x 3 x H x W, model input) at each
    stride, cut as counting cuts them: clips x 3 x num_frames x H x W."""
    rows = np.concatenate([chunk_indices(len(frames), s, num_frames) for s in strides])
    return frames[torch.from_numpy(rows)].transpose(1, 2)


@torch.no_grad()
def repnet_outputs(model: nn.Module, clips: torch.Tensor, batch_size: int = 8) -> RepNetOutput:
    """``model``'s outputs on ``clips`` (N x 3 x T x H x W), in eval mode, ``batch_size`` clips
    at a time; an eager RepNet or a compressed one (an int8 graph) alike."""
    parts = []
    with _inference_mode(model):
        for start in range(0, len(clips), batch_size):
            parts.append(model(clips[start : start + batch_size]))
    period, periodicity, embeddings = (torch.cat(column) for column in zip(*parts, strict=True))
    return period, periodicity, embeddings


def clip_divergences(teacher_outputs: RepNetOutput, student_outputs: RepNetOutput) -> np.ndarray:
    """Per clip: the student's divergence from the teacher (module notes), from their outputs
    on the same clips."""
    divergences = []
    for index in range(len(teacher_outputs[0])):
        teacher = tuple(t[index : index + 1].float() for t in teacher_outputs)
        student = tuple(t[index : index + 1].float() for t in student_outputs)
        _, parts = distillation_loss(student, teacher)
        _, own = distillation_loss(teacher, teacher)  # the teacher's periodicity entropy
        divergences.append(parts["period_kl"] + parts["periodicity_bce"] - own["periodicity_bce"])
    return np.asarray(divergences)


def fidelity(
    teacher: nn.Module, student: nn.Module, clips: torch.Tensor, batch_size: int = 8
) -> np.ndarray:
    """Per clip of ``clips``: how far ``student``'s outputs are from ``teacher``'s (0: the
    same outputs)."""
    return clip_divergences(
        repnet_outputs(teacher, clips, batch_size), repnet_outputs(student, clips, batch_size)
    )
