"""Recovery: distil a compressed model back toward the uncompressed one (its teacher).

Pruning and factorising shift every later activation, so first the batch-norm statistics are
re-estimated on clips (cheap, and it undoes most of the shift); then the student is trained, in
the project's one loop (``training/loop.py``), to reproduce the teacher's outputs on the same
clips: KL divergence on the period-length distribution of every frame, BCE toward the teacher's
periodicity, MSE between the two models' frame self-similarity matrices (embedding widths
differ after pruning, similarities do not), and on synthetic clips the ground-truth loss of
training, since their labels come for free. No labels are needed otherwise: ``data`` may be any
folder of the user's videos, cut into 64-frame chunks at the counting strides.

Batch norms stay in inference mode during the steps (the statistics just re-estimated are kept;
a batch of a few clips would estimate them worse). A run is fixed by its step and the seed, and
runs on one thread: the search, ``export`` and ``apply`` get the same weights on any machine.
On a GPU (the study's ``accuracy_device``) it is about as reproducible as cuDNN's kernels, and
an export reproduces it on the same kind of device only.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from autocompress.compression.steps import FinetuneStep, PipelineError, RecoveryLog, StepReport
from autocompress.data.cache import VideoCache
from autocompress.data.decode import UnreadableVideo, decode_video, to_model_input
from autocompress.models.counting import CountingConfig, chunk_indices
from autocompress.training.clips import Batch, CurriculumConfig, training_batches
from autocompress.training.loop import optimize
from autocompress.training.trainer import label_loss

__all__ = ["distillation_loss", "recover", "reestimate_batch_norms", "video_batches"]

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


def _recovery_loss(
    student_outputs: tuple[torch.Tensor, ...],
    teacher_outputs: tuple[torch.Tensor, ...],
    batch: Batch,
    step: FinetuneStep,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Distillation, plus the ground truth where the clips carry it (synthetic ones)."""
    loss, parts = distillation_loss(student_outputs, teacher_outputs, step.embedding_weight)
    if batch.period is not None and step.label_weight > 0:
        labels, _ = label_loss(student_outputs, batch, _PERIOD_LABEL_SIGMA)
        loss = loss + step.label_weight * labels
        parts["labels"] = labels.item()
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


def _batch_norms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def reestimate_batch_norms(model: nn.Module, batches: Iterator[Batch], count: int) -> None:
    """Replace every batch norm's running statistics by their plain average over ``count``
    batches, the rest of the model in inference mode."""
    norms = _batch_norms(model)
    if not norms or count == 0:
        return
    saved = [(norm, norm.momentum) for norm in norms]
    model.eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average
        norm.train()
    try:
        for _ in range(count):
            model(next(batches).clips)
    finally:
        for norm, momentum in saved:
            norm.momentum = momentum
        model.eval()


def _check_teacher(student: nn.Module, teacher: nn.Module, clips: torch.Tensor) -> None:
    with torch.no_grad():
        try:
            ours, theirs = student(clips), teacher(clips)
        except RuntimeError as error:
            raise PipelineError(f"finetune: the models cannot run these clips: {error}") from error
    shapes = [tuple(t.shape) for t in ours[:2]], [tuple(t.shape) for t in theirs[:2]]
    if shapes[0] != shapes[1]:
        raise PipelineError(
            f"finetune: the teacher does not match the model (outputs {shapes[1]} vs "
            f"{shapes[0]}); distil from the model this pipeline compressed"
        )


def _is_trainable(model: nn.Module) -> bool:
    """Float modules only: int8 layers and exported graphs have no gradients to follow."""
    if isinstance(model, torch.fx.GraphModule):
        return False
    return not any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in model.modules())


def _schedule(step: FinetuneStep):
    """Short linear warm-up, then cosine decay to 5 % over the steps."""
    warmup = max(1, min(20, step.steps // 10))

    def learning_rate_at(index: int) -> float:
        if index < warmup:
            return step.learning_rate * (index + 1) / warmup
        progress = (index - warmup) / max(1, step.steps - warmup)
        return step.learning_rate * (0.05 + 0.475 * (1 + math.cos(math.pi * min(1.0, progress))))

    return learning_rate_at


def recover(
    model: nn.Module, step: FinetuneStep, teacher: nn.Module, device: str = "cpu"
) -> StepReport:
    """Re-estimate batch norms, then distil ``teacher`` into ``model`` for ``step.steps``
    steps, in place, on ``device`` (the model comes back on the CPU). The report logs the
    loss on a held batch before and after."""
    started = time.perf_counter()
    if not _is_trainable(model):
        raise PipelineError("finetune cannot train an int8 model: put it before quantize")
    config = getattr(teacher, "config", None) or getattr(model, "config", None)
    if config is None:
        raise PipelineError("finetune needs a model that declares its input (a RepNet config)")
    num_frames, image_size = config.num_frames, config.image_size
    params = sum(p.numel() for p in model.parameters())
    target = torch.device(device)
    teacher = copy.deepcopy(teacher).eval().requires_grad_(False).to(target)
    model.to(target)
    generator_state, threads = torch.get_rng_state(), torch.get_num_threads()
    torch.manual_seed(step.seed)
    torch.set_num_threads(1)
    try:
        held = _to(next(_batches(step, num_frames, image_size, step.seed + 1)), target)
        _check_teacher(model.eval(), teacher, held.clips[:1])
        batches = (
            _to(batch, target) for batch in _batches(step, num_frames, image_size, step.seed)
        )
        reestimate_batch_norms(model, batches, step.bn_batches)
        before = _held_loss(model, teacher, held, step)
        if step.steps:
            _distil(model, teacher, batches, step)
        after = _held_loss(model, teacher, held, step)
    finally:
        torch.set_rng_state(generator_state)
        torch.set_num_threads(threads)
        model.to("cpu")
    log = RecoveryLog(step.steps, step.data, before, after)
    return StepReport(
        step, (log,), params, params, time.perf_counter() - started, model=model.eval()
    )


def _to(batch: Batch, device: torch.device) -> Batch:
    if device.type == "cpu":
        return batch
    fields = (batch.clips, batch.period, batch.periodic)
    return Batch(*(None if t is None else t.to(device) for t in fields))


def _held_loss(model: nn.Module, teacher: nn.Module, held: Batch, step: FinetuneStep) -> float:
    with torch.no_grad():
        outputs = model.eval()(held.clips), teacher(held.clips)
        loss, _ = distillation_loss(*outputs, step.embedding_weight)
    return loss.item()


def _distil(model: nn.Module, teacher: nn.Module, batches: Iterator[Batch], step: FinetuneStep):
    model.train()
    for norm in _batch_norms(model):
        norm.eval()
    optimizer = torch.optim.AdamW(model.parameters(), lr=step.learning_rate, weight_decay=1e-4)

    def loss_fn(batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        with torch.no_grad():
            targets = teacher(batch.clips)
        return _recovery_loss(model(batch.clips), targets, batch, step)

    try:
        optimize(model, optimizer, batches, loss_fn, _schedule(step), 0, step.steps)
    finally:
        model.eval()
