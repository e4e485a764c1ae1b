"""Running a function in a forked child that starts from this process's clean state.

TorchScript names every type it compiles in one process-wide compilation unit and tells
apart two types of one Python class (two Conv2d of different shapes, say) by a counter that
only grows. The names land in the serialized file, so the same model scripted after others
gives other bytes, even another size (seen: 2.540 vs 2.526 MiB for one pipeline). A process
that never compiles anything itself and scripts each model in a forked child gives the same
bytes for the same model whatever it did before, like a fresh process would, without the cost
of starting one: the child shares the parent's memory, so the model is not copied either.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import signal
import traceback
import warnings
from collections.abc import Callable
from multiprocessing.connection import Connection

import torch

from autocompress.errors import UserError, typed_first_line

__all__ = ["ChildFailed", "run_in_fork"]

_PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


class ChildFailed(RuntimeError):
    """The child raised (its message is kept) or died."""


def _die_with_parent(parent: int) -> None:
    """Linux: end this child when its parent dies (a killed worker must not leave a child
    holding the machine's timing lock it inherited)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the child ends with its work
        return
    if os.getppid() != parent:  # it died before the call
        os._exit(1)


def _child(
    parent: int,
    parent_end: Connection,
    connection: Connection,
    function: Callable[..., bytes],
    args: tuple,
) -> None:
    _die_with_parent(parent)
    parent_end.close()  # else a dead parent leaves this child writing to itself forever
    # One thread: the parent may have used OpenMP's pool, which does not survive a fork.
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # the parent records its own; these would be printed twice
    try:
        connection.send(("ok", function(*args)))
    except UserError as error:  # a one-line refusal: the parent says it as it is
        connection.send(("user", str(error)))
    except Exception as error:
        connection.send(("error", _describe(error)))
    finally:
        connection.close()


def _describe(error: Exception) -> str:
    """``Type: first line`` (TorchScript's messages start with an empty line, which left the
    parent's one-line reason empty: ``RuntimeError: ``); for an error without a message
    (seen once, from scripting, not reproduced), where it was raised instead."""
    if str(error).strip():
        return typed_first_line(error)
    where = traceback.extract_tb(error.__traceback__)[-1]
    return f"{type(error).__name__} without a message, raised at {where.filename}:{where.lineno}"


def run_in_fork(function: Callable[..., bytes], *args: object) -> bytes:
    """``function(*args)`` computed in a forked child; where fork is unavailable (not Linux
    or macOS), in this process. A UserError in the child is raised again as one."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return function(*args)
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_child, args=(os.getpid(), receiver, sender, function, args), daemon=True
    )
    # The child must never collect garbage: it would finalize the parent's, such as a video
    # decoder whose threads exist only in the parent, and wait for them forever (seen). It
    # inherits the collector off from the moment of the fork.
    collecting = gc.isenabled()
    gc.disable()
    try:
        child.start()
    finally:
        if collecting:
            gc.enable()
    sender.close()
    try:
        status, payload = receiver.recv()
    except EOFError:
        child.join()
        raise ChildFailed(f"the child process died (exit code {child.exitcode})") from None
    finally:
        receiver.close()
    child.join()
    if status == "user":
        raise UserError(payload)
    if status == "error":
        raise ChildFailed(payload)
    return payload
