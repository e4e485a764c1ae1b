"""Rank selection by empirical variational Bayesian matrix factorisation (EVBMF).

Global analytic solution of Nakajima, Sugiyama, Babacan and Tomioka, "Global analytic solution of
fully-observed variational Bayesian matrix factorization" (JMLR 14, 2013), with the noise variance
estimated as in Nakajima et al., "Condition for perfect dimensionality recovery by variational
Bayesian PCA" (JMLR 16, 2015). For an L x M matrix (L <= M, alpha = L / M) with singular values
gamma_h and noise variance sigma^2, component h survives iff

    gamma_h > sigma * sqrt(M * x_bar),   x_bar = (1 + tau_bar) (1 + alpha / tau_bar),

where tau_bar is the zero of  Xi(tau) = Phi(tau) + Phi(tau / alpha),  Phi(z) = log(z + 1) / z - 1/2.
sigma^2 minimises  sum_h psi(gamma_h^2 / (M sigma^2))  with psi(x) = x - log x, plus, above x_bar,
psi_1(x) = log(tau(x) + 1) + alpha log(tau(x) / alpha + 1) - tau(x),
tau(x) = (x - (1 + alpha) + sqrt((x - (1 + alpha))^2 - 4 alpha)) / 2.
Kim et al. (ICLR 2016) apply it to the mode-0 and mode-1 unfoldings of a kernel to pick Tucker-2
ranks; so does the case study for ResNet-50.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import brentq, minimize_scalar

__all__ = ["evbmf_rank", "evbmf_threshold_x"]


def evbmf_threshold_x(alpha: float) -> float:
    """x_bar(alpha): the normalised squared singular value below which EVB prunes a component."""

    def xi(tau: float) -> float:
        return math.log1p(tau) / tau + math.log1p(tau / alpha) / (tau / alpha) - 1.0

    # Xi decreases from +1 (tau -> 0) to -1; its zero lies above sqrt(alpha) (2.5129 for alpha=1).
    tau_bar = brentq(xi, 1e-9, 1e9 * max(alpha, 1.0), xtol=1e-12)
    return (1.0 + tau_bar) * (1.0 + alpha / tau_bar)


def _tau(x: np.ndarray, alpha: float) -> np.ndarray:
    shifted = x - (1.0 + alpha)
    return 0.5 * (shifted + np.sqrt(np.maximum(shifted**2 - 4.0 * alpha, 0.0)))


def _objective(sigma2: float, squared: np.ndarray, m: int, alpha: float, x_bar: float) -> float:
    """Free energy in sigma^2 (up to constants) of the EVB solution, all components kept."""
    x = squared / (m * sigma2)
    value = float(np.sum(x - np.log(x)))
    above = x[x > x_bar]
    if above.size:
        tau = _tau(above, alpha)
        value += float(np.sum(np.log1p(tau) + alpha * np.log1p(tau / alpha) - tau))
    return value


def evbmf_rank(matrix: np.ndarray) -> int:
    """The rank EVBMF keeps for ``matrix`` (noise variance estimated), at least 1."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape[0] > matrix.shape[1]:
        matrix = matrix.T
    rows, cols = matrix.shape
    # Singular values through torch: its thread setting is respected, numpy's BLAS is not.
    singular = torch.linalg.svdvals(torch.from_numpy(matrix)).numpy()
    scale = singular[0] if singular[0] > 0 else 1.0
    squared = (singular / scale) ** 2  # the rank does not depend on the scale; this keeps logs sane
    squared = np.maximum(squared, np.finfo(np.float64).tiny)
    alpha = rows / cols
    x_bar = evbmf_threshold_x(alpha)

    # Bounds on the noise variance (Nakajima et al. 2015, Theorem 4 and its proof).
    max_rank = min(math.ceil(rows / (1.0 + alpha)) - 1, rows - 1)
    upper = float(np.sum(squared)) / (rows * cols)
    lower = max(squared[max_rank] / (cols * x_bar), float(np.mean(squared[max_rank:])) / cols)
    lower = min(lower, upper)
    if lower == upper:
        sigma2 = upper
    else:
        result = minimize_scalar(
            _objective,
            bounds=(lower, upper),
            args=(squared, cols, alpha, x_bar),
            method="bounded",
            options={"xatol": 1e-12 * upper},
        )
        sigma2 = float(result.x)
    threshold = cols * sigma2 * x_bar
    return max(1, int(np.sum(squared > threshold)))
