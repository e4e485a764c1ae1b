"""Low-rank factorisations of weight tensors: plain functions on numpy arrays (TensorLy style).

Each returns its factors and the relative reconstruction error ||W - W_hat||_F / ||W||_F. They
are deterministic (SVD initialisation, fixed seed) and memoised on disk with ``joblib.Memory``,
keyed by the weight's content, the method and the rank, because a search factorises the same
layers with the same ranks over and over. The cache lives in ``$AUTOCOMPRESS_CACHE`` or
``~/.cache/autocompress``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import tensorly as tl
import torch
from joblib import Memory
from tensorly.decomposition import parafac

from autocompress.cache import cache_root
from autocompress.compression.steps import PipelineError
from autocompress.compression.tensorize.vbmf import evbmf_rank
from autocompress.timing import torch_threads

__all__ = [
    "CP_TIME_CAP_S",
    "cache_dir",
    "cp",
    "cp_rank_cap",
    "cp_rank_within",
    "cp_seconds",
    "cp_speed",
    "svd",
    "tucker2",
    "unfolding_ranks",
]

_CP_ITERATIONS = 200
_TUCKER_ITERATIONS = 20

# CP's cost, measured (parafac as below, one thread, random weights: no early convergence) on
# shapes from 64x64x3x3 to 256x128x64x1 at ranks 8 to 128: at most about elements x rank x
# (1e-7 + 3.5e-9 x rank) seconds (the MTTKRP is linear in the rank, the normal equations
# quadratic); most shapes took 0.3-1.3 times that. A machine's own speed scales it: the
# reference CP below took _REFERENCE_S where these were fitted, and takes what it takes here
# (cp_speed, timed once per machine and kept in the cache).
_CP_LINEAR_S, _CP_QUADRATIC_S = 1e-7, 3.5e-9
_REFERENCE_SHAPE, _REFERENCE_RANK, _REFERENCE_S = (64, 64, 3, 3), 32, 0.18
CP_TIME_CAP_S = 20.0  # a CP estimated to take longer is refused (one trial's worth of waiting)
CP_WALL_LIMIT_S = 3 * CP_TIME_CAP_S  # a CP that runs this long anyway (a loaded machine) stops


def cache_dir() -> Path:
    return cache_root() / "decompositions"


@cache
def _memoised(function: Callable, location: Path) -> Callable:
    return Memory(location, verbose=0).cache(function)


def _cached(function: Callable) -> Callable:
    """``function`` memoised in the cache directory current at call time (tests move it), run
    on one intra-op thread: its many small products only thrash when the cores are shared."""

    def call(*args):
        with torch_threads(1):
            return _memoised(function, cache_dir())(*args)

    call.__doc__ = function.__doc__
    return call


def _relative_error(weight: torch.Tensor, approximation: torch.Tensor) -> float:
    norm = torch.linalg.vector_norm(weight).clamp_min(1e-30)
    return (torch.linalg.vector_norm(weight - approximation) / norm).item()


def _leading_vectors(matrix: torch.Tensor, count: int) -> torch.Tensor:
    """The ``count`` leading left singular vectors, from the eigenvectors of the small Gram
    matrix (rows x rows), signs fixed so the result is reproducible."""
    _, vectors = torch.linalg.eigh(matrix @ matrix.T)
    vectors = vectors.flip(1)[:, :count]
    signs = torch.sign(vectors.gather(0, vectors.abs().argmax(0, keepdim=True)))
    return vectors * torch.where(signs == 0, 1.0, signs)


def _unfold(tensor: torch.Tensor, mode: int) -> torch.Tensor:
    return tensor.movedim(mode, 0).reshape(tensor.shape[mode], -1)


def _tucker2(weight: np.ndarray, ranks: tuple[int, int]):
    """Tucker-2 on modes 0 (output) and 1 (input) by HOSVD then HOOI: core R_out x R_in x k...,
    U_out, U_in. Written out rather than ``tensorly.partial_tucker``, whose SVDs of the wide
    unfoldings (in x out*k^d) take minutes on RepNet's Conv3d; the Gram route takes seconds."""
    tensor = torch.from_numpy(weight).double()
    out_rank, in_rank = ranks
    out_factor = _leading_vectors(_unfold(tensor, 0), out_rank)
    in_factor = _leading_vectors(_unfold(tensor, 1), in_rank)
    norm = torch.linalg.vector_norm(tensor)
    previous = math.inf
    for _ in range(_TUCKER_ITERATIONS):
        projected_in = torch.tensordot(tensor, in_factor, dims=([1], [0])).movedim(-1, 1)
        out_factor = _leading_vectors(_unfold(projected_in, 0), out_rank)
        projected_out = torch.tensordot(tensor, out_factor, dims=([0], [0])).movedim(-1, 0)
        in_factor = _leading_vectors(_unfold(projected_out, 1), in_rank)
        core = torch.tensordot(projected_out, in_factor, dims=([1], [0])).movedim(-1, 1)
        # Orthonormal factors: ||W - W_hat||^2 = ||W||^2 - ||core||^2.
        error = math.sqrt(max(norm.item() ** 2 - core.square().sum().item(), 0.0)) / norm.item()
        if previous - error < 1e-6:
            break
        previous = error
    return (core.float().numpy(), out_factor.float().numpy(), in_factor.float().numpy(), error)


def _time_reference_cp() -> float:
    """Seconds of the reference CP here, the median of three (uncached, one thread)."""
    weight = np.random.default_rng(0).standard_normal(_REFERENCE_SHAPE).astype(np.float32)
    seconds = []
    with torch_threads(1):
        for _ in range(3):
            started = time.perf_counter()
            _cp(weight, _REFERENCE_RANK)
            seconds.append(time.perf_counter() - started)
    return sorted(seconds)[1]


@cache
def cp_speed() -> float:
    """How much longer a CP takes on this machine than where the time model was fitted: the
    reference CP timed once per machine (about half a second) and kept in the cache, so every
    process here, a search's workers and a later export, estimates the same."""
    path = cache_root() / "cp_speed.json"
    try:
        return float(json.loads(path.read_text())["factor"])
    except (OSError, ValueError, KeyError, TypeError):
        factor = _time_reference_cp() / _REFERENCE_S
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"factor": factor}))
    except OSError:
        pass  # a read-only cache: timed again by the next process
    return factor


def cp_seconds(shape: tuple[int, ...], rank: int) -> float:
    """About how long :func:`cp` takes on a weight of ``shape`` at ``rank`` here (see above)."""
    per_rank = _CP_LINEAR_S + _CP_QUADRATIC_S * rank
    return cp_speed() * math.prod(shape) * rank * per_rank


def cp_rank_within(shape: tuple[int, ...], seconds: float) -> int:
    """The largest CP rank whose estimate (:func:`cp_seconds`) is within ``seconds``; 1 when
    none is (a rank-1 CP is the cheapest there is)."""
    budget = seconds / (cp_speed() * math.prod(shape))  # rank x (linear + quadratic x rank)
    linear, quadratic = _CP_LINEAR_S, _CP_QUADRATIC_S
    rank = int((-linear + math.sqrt(linear**2 + 4 * quadratic * budget)) / (2 * quadratic))
    while cp_seconds(shape, rank + 1) <= seconds:  # the root's rounding, either way
        rank += 1
    while rank > 1 and cp_seconds(shape, rank) > seconds:
        rank -= 1
    return max(rank, 1)


def cp_rank_cap(shape: tuple[int, ...]) -> int:
    """The rank cap: the largest CP rank any tensor of ``shape`` needs (its elements over its
    largest mode, the rank of its widest unfolding); above it ALS only takes longer."""
    return max(1, math.prod(shape) // max(shape))


def _stop_after(seconds: float) -> Callable:
    """A parafac callback that refuses to go on past ``seconds`` of wall time."""
    started = time.perf_counter()

    def check(_cp_tensor, _error) -> None:
        if time.perf_counter() - started > seconds:
            raise PipelineError(f"CP stopped after {seconds:.0f} s; use tucker or a lower rank")

    return check


def _cp(weight: np.ndarray, rank: int):
    """CP (PARAFAC) of all modes: weights (R,) and one R-column factor per mode. Runs on
    TensorLy's PyTorch backend: numpy's threaded BLAS thrashes when the cores are shared
    (minutes instead of seconds for a small Conv3d)."""
    tensor = torch.from_numpy(weight).double()
    # SVD initialisation needs rank <= every mode's size (a 3-wide kernel mode caps it at 3);
    # above that, a seeded random start keeps the result deterministic.
    init = "svd" if rank <= min(tensor.shape) else "random"
    with tl.backend_context("pytorch"):
        cp_tensor = parafac(
            # tol 1e-4: the last iterations of a lossy CP move its error by under 1 % (0.7563 vs
            # 0.7521 at rank 57 of the temporal conv) and took 2-7x the time.
            tensor,
            rank=rank,
            n_iter_max=_CP_ITERATIONS,
            init=init,
            tol=1e-4,
            random_state=0,
            callback=_stop_after(CP_WALL_LIMIT_S),
        )
        error = _relative_error(tensor, tl.cp_to_tensor(cp_tensor))
    weights, factors = cp_tensor
    return weights.float().numpy(), [f.float().numpy() for f in factors], error


def _svd(weight: np.ndarray, rank: int):
    """Truncated SVD of an out x in matrix, split evenly: (U sqrt(S), sqrt(S) V^T)."""
    matrix = torch.from_numpy(weight).double()
    u, s, vt = torch.linalg.svd(matrix, full_matrices=False)
    root = s[:rank].sqrt()
    left, right = u[:, :rank] * root, root[:, None] * vt[:rank]
    error = _relative_error(matrix, left @ right)
    return left.float().numpy(), right.float().numpy(), error


def _unfolding_ranks(weight: np.ndarray) -> tuple[int, int]:
    """EVBMF ranks of the mode-0 (output) and mode-1 (input) unfoldings."""
    tensor = torch.from_numpy(weight).double()
    return evbmf_rank(_unfold(tensor, 0).numpy()), evbmf_rank(_unfold(tensor, 1).numpy())


tucker2 = _cached(_tucker2)
cp = _cached(_cp)
svd = _cached(_svd)
unfolding_ranks = _cached(_unfolding_ranks)
