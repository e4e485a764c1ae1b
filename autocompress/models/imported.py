"""A user's model named by import path: ``--model package.module:factory``.

The factory (any callable without arguments, a class included, e.g.
``torchvision.models:resnet18``) returns a :class:`~autocompress.models.adapter.ModelAdapter`,
a pair ``(model, example_inputs)``, or a plain ``nn.Module`` whose example inputs the study
describes (``input_shape``, ``input_type``: :func:`example_inputs`). The last two are scored by
``--task package.module:object``: a Task, or a function of the model returning an error or a
mapping objective -> error (its ``objectives`` attribute names them; default ``error``). The
current directory is importable, as for ``python -m``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from torch import nn

from autocompress.errors import UserError
from autocompress.evaluators.task import FunctionTask, Task
from autocompress.inputs import as_inputs, described_inputs
from autocompress.models.adapter import ModelAdapter, ModuleAdapter

__all__ = ["import_object", "imported_adapter"]

# Samples of a model described by its input shape that calibrate int8 and, with no task, that
# its fidelity is averaged over: one random input would say little about either.
DESCRIBED_ROWS = 16


def import_object(path: str) -> Any:
    """The object at ``package.module:attribute`` (attributes may be dotted)."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise UserError(f"{path!r}: expected package.module:name")
    if str(Path.cwd()) not in sys.path and "" not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise UserError(f"{path}: cannot import {module_name} ({error})") from error
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise UserError(f"{path}: {module_name} has no attribute {attribute!r}")
        target = getattr(target, part)
    return target


def _task(path: str | None, key: str = "task") -> Task | None:
    if path is None:
        return None
    target = import_object(path)
    if isinstance(target, Task):
        return target
    if not callable(target):
        raise UserError(f"{key} {path}: not a Task nor a function of the model")
    return FunctionTask(target, tuple(getattr(target, "objectives", ("error",))))


def imported_adapter(
    path: str,
    task: str | None,
    input_shape: str | None = None,
    input_type: str | None = None,
    test_task: str | None = None,
) -> ModelAdapter:
    """The adapter of the factory at ``path`` (see the module's notes); ``test_task`` scores
    its held-out items the same way (None: no test set)."""
    target = import_object(path)
    made = target() if callable(target) and not isinstance(target, nn.Module) else target
    if input_shape is None and input_type is not None:
        raise UserError("input_type: give input_shape too (one shape per input)")
    if isinstance(made, nn.Module):
        if input_shape is None:
            raise UserError(
                f"{path} gave a {type(made).__name__} without example inputs: give its input "
                "shape (--input-shape 1,3,224,224; several inputs 1,16;1,16 with --input-type "
                "int64;int64)"
            )
        return ModuleAdapter(
            made,
            described_inputs(input_shape, input_type),
            _task(task),
            described_inputs(input_shape, input_type, DESCRIBED_ROWS),
            name=path,
            test_scoring=_task(test_task, "test_task"),
        )
    if input_shape is not None:
        raise UserError(
            f"input_shape: {path} brings its own example inputs; leave --input-shape out"
        )
    if isinstance(made, ModelAdapter):
        for flag, value in (("--task", task), ("--test-task", test_task)):
            if value is not None:
                raise UserError(f"{path} is an adapter with its own tasks; leave {flag} out")
        return made
    if isinstance(made, tuple) and len(made) == 2 and isinstance(made[0], nn.Module):
        model, inputs = made
        return ModuleAdapter(
            model,
            as_inputs(inputs, f"{path}'s example inputs"),
            _task(task),
            name=path,
            test_scoring=_task(test_task, "test_task"),
        )
    if hasattr(made, "task") and not hasattr(made, "test_task"):
        raise UserError(
            f"{path} gave an adapter without test_task(): add one (return None: no test set)"
        )
    raise UserError(
        f"{path} gave a {type(made).__name__}: a model factory returns a ModelAdapter, "
        "(model, example_inputs), or an nn.Module with --input-shape"
    )
