"""Recovery: distil a compressed model back toward the uncompressed one (its teacher).

Pruning and factorising shift every later activation, so first the batch-norm statistics are
re-estimated on the model family's batches (cheap, and it undoes most of the shift); then the
student is trained, in the project's one loop (``loop.py``), to reproduce the teacher's
outputs under the family's distillation loss (``distillation.py``; RepNet's:
autocompress.models.repnet.distillation). A model family without one is distilled
on the step's calibration inputs, its outputs matched to the teacher's.

Batch norms stay in inference mode during the steps (the statistics just re-estimated are kept;
a batch of a few clips would estimate them worse). A run is fixed by its step and the seed, and
runs on RECOVERY_THREADS threads whatever the machine's cores (threaded kernels sum in an order
that depends on the thread count, not on the run): the search, ``export`` and ``apply`` get the
same weights on any machine with the same kernels.
On a GPU (the study's ``accuracy_device``) it is about as reproducible as cuDNN's kernels, and
an export reproduces it on the same kind of device only.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import torch
from torch import nn

from autocompress.compression.finetune.distillation import Distillation, OutputDistillation
from autocompress.compression.finetune.loop import optimize
from autocompress.compression.finetune.step import FinetuneStep, RecoveryLog
from autocompress.compression.finetune.teacher_outputs import HELD, TeacherOutputs, TeacherOutputsOf
from autocompress.compression.steps import PipelineError, StepReport
from autocompress.inputs import Inputs, output_tensors, rows

__all__ = ["recover", "reestimate_batch_norms"]

# Fixed, for reproducible weights. Two: 1.8x faster a step than one for repnet-s (0.50 s
# against 0.89 s; data, teacher and student), measured on the 2-core machine the suite runs on.
RECOVERY_THREADS = 2
# The recoveries of one process (a search's) distil the same teacher on the same batches.
TEACHER_OUTPUTS = TeacherOutputs()


def _batch_norms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def reestimate_batch_norms(model: nn.Module, inputs: Iterator[Inputs], count: int) -> None:
    """Replace every batch norm's running statistics by their plain average over ``count``
    batches of ``inputs``, the rest of the model in inference mode."""
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
            model(*next(inputs))
    finally:
        for norm, momentum in saved:
            norm.momentum = momentum
        model.eval()


def _first_tensors(outputs: Any) -> list[tuple[int, ...]]:
    return [tuple(t.shape) for t in output_tensors(outputs)[:2]]


def _check_teacher(student: nn.Module, teacher: nn.Module, inputs: Inputs) -> None:
    with torch.no_grad():
        try:
            ours, theirs = student(*inputs), teacher(*inputs)
        except RuntimeError as error:
            raise PipelineError(f"finetune: the models cannot run these inputs: {error}") from error
    shapes = _first_tensors(ours), _first_tensors(theirs)
    if shapes[0] != shapes[1]:
        raise PipelineError(
            f"finetune: the teacher does not match the model (outputs {shapes[1]} vs "
            f"{shapes[0]}); distil from the model this pipeline compressed"
        )


_INT8 = (torch.int8, torch.qint8, torch.quint8)  # not uint8: fake quantizers flag with it


def _is_trainable(model: nn.Module) -> bool:
    """Float modules, or fake-quantized ones (a quantize step's recovery trains its prepared
    graph): int8 layers (FX's modules, or an exported graph's int8 weights) have no gradients
    to follow."""
    int8_modules = (type(m).__module__.startswith("torch.ao.nn.quantized") for m in model.modules())
    int8_tensors = (t.dtype in _INT8 for t in (*model.parameters(), *model.buffers()))
    return not any(int8_modules) and not any(int8_tensors)


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
    model: nn.Module,
    step: FinetuneStep,
    teacher: nn.Module,
    *,
    distillation: Distillation | None = None,
    device: str = "cpu",
    calibration: Inputs | None = None,
) -> StepReport:
    """Re-estimate batch norms, then distil ``teacher`` into ``model`` for ``step.steps``
    steps, in place, on ``device`` (the model comes back on the CPU), under ``distillation``
    (None: the outputs matched on ``calibration``). The report logs the loss on a held batch
    before and after."""
    started = time.perf_counter()
    if not _is_trainable(model):
        raise PipelineError(
            "finetune cannot train an int8 model: put it before quantize, or give quantize a "
            "recovery"
        )
    if distillation is None:
        distillation = OutputDistillation(calibration)
    params = sum(p.numel() for p in model.parameters())
    target = torch.device(device)
    stream = (step.data, step.batch_size, step.seed, str(target))
    teacher_outputs = TEACHER_OUTPUTS.stream(teacher, distillation, stream)
    teacher = copy.deepcopy(teacher).eval().requires_grad_(False).to(target)
    model.to(target)
    generator_state, threads = torch.get_rng_state(), torch.get_num_threads()
    torch.manual_seed(step.seed)
    torch.set_num_threads(RECOVERY_THREADS)
    try:
        held = distillation.to(next(distillation.batches(step, teacher, step.seed + 1)), target)
        _check_teacher(model.eval(), teacher, rows(distillation.inputs(held), 0, 1))
        batches = enumerate(
            distillation.to(batch, target)
            for batch in distillation.batches(step, teacher, step.seed)
        )
        inputs = (distillation.inputs(batch) for _, batch in batches)
        reestimate_batch_norms(model, inputs, step.bn_batches)
        held_targets = teacher_outputs(HELD, partial(_run, teacher, distillation.inputs(held)))
        before = _held_loss(model, held_targets, held, step, distillation)
        if step.steps:
            targets = partial(_targets, teacher, teacher_outputs)
            _distil(model, targets, batches, step, distillation)
        after = _held_loss(model, held_targets, held, step, distillation)
    finally:
        torch.set_rng_state(generator_state)
        torch.set_num_threads(threads)
        model.to("cpu")
    log = RecoveryLog(step.steps, step.data, before, after)
    return StepReport(
        step, (log,), params, params, time.perf_counter() - started, model=model.eval()
    )


@torch.no_grad()
def _run(teacher: nn.Module, inputs: Inputs) -> Any:
    return teacher(*inputs)


def _targets(
    teacher: nn.Module, teacher_outputs: TeacherOutputsOf, index: int, inputs: Inputs
) -> Any:
    return teacher_outputs(index, partial(_run, teacher, inputs))


def _held_loss(
    model: nn.Module, targets: Any, held: Any, step: FinetuneStep, distillation: Distillation
) -> float:
    with torch.no_grad():
        return distillation.held_loss(model.eval()(*distillation.inputs(held)), targets, step)


def _distil(
    model: nn.Module,
    targets: Callable[[int, Inputs], Any],
    batches: Iterator[tuple[int, Any]],
    step: FinetuneStep,
    distillation: Distillation,
) -> None:
    """Train on ``batches`` (numbered in their stream); ``targets(number, inputs)`` are the
    teacher's outputs."""
    model.train()
    for norm in _batch_norms(model):
        norm.eval()
    optimizer = torch.optim.AdamW(model.parameters(), lr=step.learning_rate, weight_decay=1e-4)

    def loss_fn(numbered: tuple[int, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        number, batch = numbered
        inputs = distillation.inputs(batch)
        return distillation.loss(model(*inputs), targets(number, inputs), batch, step)

    try:
        optimize(model, optimizer, batches, loss_fn, _schedule(step), 0, step.steps)
    finally:
        model.eval()
