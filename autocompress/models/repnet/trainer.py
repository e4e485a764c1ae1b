"""Training a RepNet on synthetic repetitions, from scratch or from given weights, resumably.

A run is fixed by :class:`TrainingConfig`; the learning-rate schedule and the data depend only on
the step number, and the checkpoint keeps the random state dropout draws from, so a run
interrupted and resumed from its checkpoint ends where an uninterrupted one would (exactly on
one thread; up to the non-determinism of threaded kernels otherwise). Only the planned number
of steps (to extend or shorten a run) and the thread and worker counts may change on resume.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from autocompress.compression.finetune.loop import optimize
from autocompress.errors import UserError
from autocompress.files import atomic_path
from autocompress.models.repnet.clips import Batch, CurriculumConfig, training_batches
from autocompress.models.repnet.network import PRESETS, RepNet
from autocompress.models.repnet.weights import load_model, save_checkpoint

__all__ = ["StepStats", "TrainingConfig", "clip_loss", "label_loss", "train"]


@dataclass(frozen=True)
class TrainingConfig:
    preset: str = "repnet-s"
    steps: int = 3000
    batch_size: int = 8
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    # Soft period labels: neighbouring period classes share probability mass, since a period
    # of 11 frames called 12 still counts nearly right.
    period_label_sigma: float = 0.75
    seed: int = 0
    # Weights to start from instead of a random init: fine-tuning a trained model further,
    # best with another ``seed`` (new clips) and a ``curriculum`` that starts hard.
    init: str | None = None
    threads: int | None = None
    workers: int = 1
    checkpoint_every: int = 100
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)

    def learning_rate_at(self, step: int) -> float:
        """Linear warm-up, then cosine decay to 5% over the planned steps."""
        if step < self.warmup_steps:
            return self.learning_rate * (step + 1) / self.warmup_steps
        progress = (step - self.warmup_steps) / max(1, self.steps - self.warmup_steps)
        return self.learning_rate * (
            0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        )


@dataclass(frozen=True)
class StepStats:
    step: int
    loss: float
    period_loss: float
    periodicity_loss: float
    period_accuracy: float  # exact class, on periodic frames


def _soft_period_targets(period: torch.Tensor, classes: int, sigma: float) -> torch.Tensor:
    """Gaussian over period classes around each frame's true period (period p is class p-1)."""
    centres = (period.clamp(min=1) - 1).unsqueeze(-1).float()
    offsets = torch.arange(classes, dtype=torch.float32, device=period.device) - centres
    weights = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return weights / weights.sum(-1, keepdim=True)


def clip_loss(model: RepNet, batch: Batch, sigma: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Cross-entropy on period length (periodic frames only) plus BCE on periodicity."""
    return label_loss(model(batch.clips), batch, sigma)


def label_loss(
    outputs: tuple[torch.Tensor, ...], batch: Batch, sigma: float
) -> tuple[torch.Tensor, dict[str, float]]:
    """:func:`clip_loss` on outputs already computed (recovery mixes it with distillation)."""
    period_logits, periodicity_logits, _ = outputs
    periodic = batch.periodic > 0.5
    targets = _soft_period_targets(batch.period, period_logits.shape[-1], sigma)
    per_frame = -(targets * F.log_softmax(period_logits, dim=-1)).sum(-1)
    period_loss = (per_frame * periodic).sum() / periodic.sum().clamp(min=1)
    periodicity_loss = F.binary_cross_entropy_with_logits(
        periodicity_logits.squeeze(-1), batch.periodic
    )
    predicted = period_logits.argmax(-1) + 1
    correct = ((predicted == batch.period) & periodic).sum() / periodic.sum().clamp(min=1)
    loss = period_loss + periodicity_loss
    return loss, {
        "period_loss": period_loss.item(),
        "periodicity_loss": periodicity_loss.item(),
        "period_accuracy": correct.item(),
    }


# What a resumed run may change: the planned total (the schedule follows it) and how many
# threads and workers compute it. Anything else would make the run another run.
_MAY_CHANGE = ("steps", "threads", "workers")


def _checkpoint_path(out: Path) -> Path:
    return out.with_name(out.name + ".ckpt")


def _save_state(path: Path, model, optimizer, step: int, config: TrainingConfig, seconds: float):
    """Write atomically so a kill during the write leaves the previous checkpoint intact."""
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "rng": torch.get_rng_state(),  # dropout draws from it
        "config": asdict(config),
        "seconds": seconds,
    }
    with atomic_path(path) as partial:
        torch.save(state, partial)


def train(
    config: TrainingConfig,
    out: Path,
    minutes: float | None = None,
    on_step: Callable[[StepStats], None] | None = None,
) -> Path | None:
    """Train, checkpointing to ``OUT.ckpt``; resume from it if present.

    Stops after ``config.steps`` steps (then writes the final weights to ``out`` and returns
    it) or when ``minutes`` of wall time have passed (then returns None: run again to resume).
    """
    if config.preset not in PRESETS:
        raise UserError(f"unknown preset {config.preset!r}; choose one of: {', '.join(PRESETS)}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    model = (
        load_model(config.preset, config.init)[0].train()
        if config.init
        else RepNet(PRESETS[config.preset])
    )
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    step, seconds_before, rng_state = 0, 0.0, None
    checkpoint = _checkpoint_path(out)
    if checkpoint.is_file():
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        stored = {k: v for k, v in state["config"].items() if k not in _MAY_CHANGE}
        wanted = {k: v for k, v in asdict(config).items() if k not in _MAY_CHANGE}
        if stored != wanted:
            changed = sorted(k for k in wanted if stored.get(k) != wanted[k])
            raise UserError(
                f"{checkpoint} belongs to a run with other settings ({', '.join(changed)}); "
                "delete it or use the same ones"
            )
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, seconds_before = state["step"], state["seconds"]
        rng_state = state.get("rng")  # absent in checkpoints of older versions

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads or os.cpu_count() or 1)
    started = time.monotonic()
    deadline = started + minutes * 60 if minutes is not None else math.inf
    cfg = model.config
    batches = training_batches(
        config.seed,
        step,
        config.batch_size,
        cfg.num_frames,
        cfg.image_size,
        config.curriculum,
        config.workers,
    )
    if rng_state is not None:  # after the batch loader, which draws a seed of its own
        torch.set_rng_state(rng_state)
    model.train()

    def after_step(done: int, loss: float, parts: dict[str, float]) -> None:
        nonlocal step  # kept current, so an interrupted run saves the steps it did
        step = done
        if on_step is not None:
            on_step(StepStats(step=done, loss=loss, **parts))
        if done % config.checkpoint_every == 0:
            elapsed = seconds_before + time.monotonic() - started
            _save_state(checkpoint, model, optimizer, done, config, elapsed)

    try:
        optimize(
            model,
            optimizer,
            batches,
            lambda batch: clip_loss(model, batch, config.period_label_sigma),
            config.learning_rate_at,
            step,
            config.steps,
            deadline,
            after_step,
        )
    finally:
        # Also on Ctrl-C: the steps done since the last checkpoint are kept.
        torch.set_num_threads(previous_threads)
        elapsed = seconds_before + time.monotonic() - started
        _save_state(checkpoint, model, optimizer, step, config, elapsed)
    if step < config.steps:
        return None
    save_checkpoint(
        model.eval(),
        out,
        training={**asdict(config), "seconds": round(elapsed, 1), "steps_done": step},
    )
    return out
