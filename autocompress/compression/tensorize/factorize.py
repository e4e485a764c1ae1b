"""Low-rank factorisations of weight tensors: plain functions on numpy arrays (TensorLy style).

Each returns its factors and the relative reconstruction error ||W - W_hat||_F / ||W||_F. They
are deterministic (SVD initialisation, fixed seed) and memoised on disk with ``joblib.Memory``,
keyed by the weight's content, the method and the rank, because a search factorises the same
layers with the same ranks over and over. The cache lives in ``$AUTOCOMPRESS_CACHE`` or
``~/.cache/autocompress``.
"""

from __future__ import annotations

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
    "cp_seconds",
    "svd",
    "tucker2",
    "unfolding_ranks",
]

_CP_ITERATIONS = 200
_TUCKER_ITERATIONS = 20

# CP's cost, measured (parafac as below, one thread, random weights: no early convergence,
# the shared 2-core development machine): 256x256x3x3 took 0.25 / 1.9 / 5.8 / 27 s at rank
# 8 / 32 / 64 / 128, 64x64x3x3 0.02 / 0.11 / 0.31 / 1.2 s. Past the smallest ranks that is
# about 3e-9 s x elements x rank^2 (2.0-3.2e-9 across those runs), so a ResNet-18 512x512x3x3
# at 0.7 of its channels (rank 359) would take about 15 minutes.
CP_SECONDS_PER_ELEMENT_RANK2 = 3e-9
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


def cp_seconds(shape: tuple[int, ...], rank: int) -> float:
    """About how long :func:`cp` takes on a weight of ``shape`` at ``rank`` (see above)."""
    return CP_SECONDS_PER_ELEMENT_RANK2 * math.prod(shape) * rank**2


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
