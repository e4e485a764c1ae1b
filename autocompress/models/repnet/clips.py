"""Training batches drawn from the synthetic generator, in a worker process.

Batch ``i`` is generated from a seed derived from ``(seed, i)`` alone, so a resumed run sees
exactly the clips an uninterrupted run would have seen, whichever process draws them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset

from autocompress.data.synthetic import make_training_clip

__all__ = ["Batch", "CurriculumConfig", "training_batches"]


@dataclass(frozen=True)
class CurriculumConfig:
    """Difficulty rises linearly from ``start`` to 1 over ``ramp_steps``.

    Plain training on full-difficulty clips stalls on predicting the most common period; easy
    clips first (one clean shape, periodic throughout) let the model find the TSM signal.
    """

    start: float = 0.1
    ramp_steps: int = 1500

    def difficulty(self, step: int) -> float:
        return min(1.0, self.start + (1.0 - self.start) * step / max(1, self.ramp_steps))


@dataclass(frozen=True)
class Batch:
    clips: torch.Tensor  # B x 3 x T x H x W in [-1, 1]
    period: torch.Tensor | None  # B x T int64, 0 where not periodic; None: unlabelled clips
    periodic: torch.Tensor | None  # B x T float


class _SyntheticBatches(IterableDataset):
    def __init__(
        self,
        seed: int,
        first_step: int,
        batch_size: int,
        num_frames: int,
        image_size: int,
        curriculum: CurriculumConfig,
    ):
        super().__init__()
        self.seed = seed
        self.first_step = first_step
        self.batch_size = batch_size
        self.num_frames = num_frames
        self.image_size = image_size
        self.curriculum = curriculum

    def __iter__(self) -> Iterator[Batch]:
        step = self.first_step
        while True:
            rng = np.random.default_rng([self.seed, step])
            difficulty = self.curriculum.difficulty(step)
            clips = [
                make_training_clip(rng, self.num_frames, self.image_size, difficulty)
                for _ in range(self.batch_size)
            ]
            frames = torch.from_numpy(np.stack([c.frames for c in clips]))  # B x T x H x W x 3
            yield Batch(
                clips=frames.permute(0, 4, 1, 2, 3).float().div_(127.5).sub_(1.0),
                period=torch.from_numpy(np.stack([c.period for c in clips])).long(),
                periodic=torch.from_numpy(np.stack([c.periodic for c in clips])).float(),
            )
            step += 1


def training_batches(
    seed: int,
    first_step: int,
    batch_size: int,
    num_frames: int,
    image_size: int,
    curriculum: CurriculumConfig,
    workers: int = 1,
) -> Iterator[Batch]:
    """Endless batches starting at ``first_step``, generated ahead in ``workers`` processes.

    With several workers each would replay the same stream, so more than one is refused.
    """
    if workers not in (0, 1):
        raise ValueError("the batch stream is sequential: use 0 or 1 worker")
    dataset = _SyntheticBatches(seed, first_step, batch_size, num_frames, image_size, curriculum)
    loader = DataLoader(
        dataset,
        batch_size=None,
        num_workers=workers,
        prefetch_factor=4 if workers else None,
        collate_fn=lambda batch: batch,
    )
    return iter(loader)
