"""How recovery distils a RepNet: its clips and its loss.

The student is trained to reproduce the teacher's outputs on the same clips: KL divergence on
the period-length distribution of every frame, BCE toward the teacher's periodicity, MSE
between the two models' frame self-similarity matrices (embedding widths differ after pruning,
similarities do not), and on synthetic clips the ground-truth loss of training, since their
labels come for free. No labels are needed otherwise: ``data`` may be any folder of the user's
videos, cut into 64-frame chunks at the counting strides.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from autocompress.compression.finetune.step import FinetuneStep
from autocompress.compression.steps import PipelineError
from autocompress.data.cache import VideoCache
from autocompress.data.decode import UnreadableVideo, decode_video, to_model_input
from autocompress.models.repnet.clips import Batch, CurriculumConfig, training_batches
from autocompress.models.repnet.counting import CountingConfig, chunk_indices
from autocompress.models.repnet.trainer import label_loss

__all__ = ["RepNetDistillation", "distillation_loss", "video_batches"]

SYNTHETIC = "synthetic"
_FULL_DIFFICULTY = CurriculumConfig(start=1.0, ramp_steps=1)
_PERIOD_LABEL_SIGMA = 0.75  # as training (TrainingConfig.period_label_sigma)


def _self_similarity(embeddings: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every pair of frames: N x T x T, whatever the embedding width."""
    unit = F.normalize(embeddings, dim=-1)
    return unit @ unit.transpose(1, 2)


def distillation_loss(
    student_outputs: tuple[torch.Tensor, ...],
    teacher_outputs: tuple[torch.Tensor, ...],
    embedding_weight: float = 1.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The student's distance to the teacher on one batch (see the module notes)."""
    period, periodicity, embeddings = student_outputs
    teacher_period, teacher_periodicity, teacher_embeddings = teacher_outputs
    classes = period.shape[-1]
    period_kl = F.kl_div(
        F.log_softmax(period.reshape(-1, classes), -1),
        F.log_softmax(teacher_period.reshape(-1, classes), -1),
        log_target=True,
        reduction="batchmean",
    )
    periodicity_bce = F.binary_cross_entropy_with_logits(
        periodicity, torch.sigmoid(teacher_periodicity)
    )
    similarity = F.mse_loss(_self_similarity(embeddings), _self_similarity(teacher_embeddings))
    loss = period_kl + periodicity_bce + embedding_weight * similarity
    parts = {
        "period_kl": period_kl.item(),
        "periodicity_bce": periodicity_bce.item(),
        "similarity_mse": similarity.item(),
    }
    return loss, parts


def _video_files(folder: Path) -> list[Path]:
    """Visible files of ``folder``, or of its ``videos/`` when it is a QUVA-layout data set."""
    if (folder / "videos").is_dir():
        folder = folder / "videos"
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def _decoded_videos(folder: Path, image_size: int) -> list[np.ndarray]:
    if not folder.is_dir():
        raise PipelineError(f"finetune data: {folder} is not a folder (or 'synthetic')")
    cache = VideoCache()
    decoded, unreadable = [], []
    for path in _video_files(folder):
        try:
            decoded.append(cache.load(path, image_size, decode_video))
        except (UnreadableVideo, OSError) as error:
            unreadable.append(str(error))
    if not decoded:
        found = f"{len(unreadable)} file(s), none decodes" if unreadable else "no files"
        raise PipelineError(f"finetune data: no readable video in {folder} ({found})")
    if unreadable:
        warnings.warn(
            f"finetune data: {len(unreadable)} unreadable file(s) skipped, e.g. {unreadable[0]}",
            stacklevel=2,
        )
    return decoded


def video_batches(
    folder: Path,
    batch_size: int,
    num_frames: int,
    image_size: int,
    seed: int,
    strides: tuple[int, ...] = CountingConfig().strides,
) -> Iterator[Batch]:
    """Endless batches of 64-frame chunks of every video at every counting stride, shuffled
    anew each pass with a generator seeded by ``seed``; no labels."""
    videos = _decoded_videos(folder, image_size)
    chunks = [
        (index, row)
        for index, frames in enumerate(videos)
        for stride in strides
        for row in chunk_indices(len(frames), stride, num_frames)
    ]
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(len(chunks))
        for start in range(0, len(order) - batch_size + 1, batch_size):
            picked = [chunks[i] for i in order[start : start + batch_size]]
            clips = [to_model_input(videos[i][row]).transpose(0, 1) for i, row in picked]
            yield Batch(clips=torch.stack(clips), period=None, periodic=None)
        if len(order) < batch_size:  # fewer chunks than a batch: repeat them to fill one
            picked = [chunks[i % len(chunks)] for i in range(batch_size)]
            clips = [to_model_input(videos[i][row]).transpose(0, 1) for i, row in picked]
            yield Batch(clips=torch.stack(clips), period=None, periodic=None)


def _batches(step: FinetuneStep, num_frames: int, image_size: int, seed: int) -> Iterator[Batch]:
    if step.data == SYNTHETIC:
        # Generated in this process (0 workers): no worker to start for a few hundred steps.
        return training_batches(
            seed, 0, step.batch_size, num_frames, image_size, _FULL_DIFFICULTY, workers=0
        )
    return video_batches(Path(step.data), step.batch_size, num_frames, image_size, seed)


@dataclass(frozen=True)
class RepNetDistillation:
    """Clips of the teacher's input shape (synthetic, or the user's videos), RepNet's loss."""

    label_weight: float = 0.5  # ground truth of synthetic clips beside the teacher's outputs
    embedding_weight: float = 1.0  # match the teacher's frame self-similarity

    def batches(self, step: FinetuneStep, teacher: nn.Module, seed: int) -> Iterator[Batch]:
        config = getattr(teacher, "config", None)
        if config is None:
            raise PipelineError("finetune needs a model that declares its input (a RepNet config)")
        return _batches(step, config.num_frames, config.image_size, seed)

    def inputs(self, batch: Batch) -> tuple[torch.Tensor]:
        return (batch.clips,)

    def to(self, batch: Batch, device: torch.device) -> Batch:
        if device.type == "cpu":
            return batch
        fields = (batch.clips, batch.period, batch.periodic)
        return Batch(*(None if t is None else t.to(device) for t in fields))

    def loss(
        self,
        student_outputs: tuple[torch.Tensor, ...],
        teacher_outputs: tuple[torch.Tensor, ...],
        batch: Batch,
        step: FinetuneStep,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Distillation, plus the ground truth where the clips carry it (synthetic ones)."""
        loss, parts = distillation_loss(student_outputs, teacher_outputs, self.embedding_weight)
        if batch.period is not None and self.label_weight > 0:
            labels, _ = label_loss(student_outputs, batch, _PERIOD_LABEL_SIGMA)
            loss = loss + self.label_weight * labels
            parts["labels"] = labels.item()
        return loss, parts

    def held_loss(
        self,
        student_outputs: tuple[torch.Tensor, ...],
        teacher_outputs: tuple[torch.Tensor, ...],
        step: FinetuneStep,
    ) -> float:
        """Distillation alone: the logged before/after numbers compare like with like."""
        return distillation_loss(student_outputs, teacher_outputs, self.embedding_weight)[0].item()
