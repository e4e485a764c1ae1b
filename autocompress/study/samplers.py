"""The samplers a study may name (``sampler:``), in a :class:`~autocompress.registry.Registry`
that a plug-in adds to. Constraints are set on each trial (``Trial.set_constraint``); the
samplers read them there."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import optuna
from optuna.exceptions import ExperimentalWarning

from autocompress.errors import UserError
from autocompress.registry import Registry
from autocompress.study.tpe import SnapshotTPESampler

__all__ = ["SAMPLERS", "make_sampler", "tpe"]

SAMPLERS: Registry[Callable[[int | None], optuna.samplers.BaseSampler]] = Registry("sampler")


def tpe(seed: int | None, n_startup_trials: int = 10) -> SnapshotTPESampler:
    """The study's TPE, modelling after ``n_startup_trials`` draws of its own (not counting
    the enqueued baseline, warm-start and recovery trials).

    group=True models the conditional space (each order has its own parameters) jointly per
    group; without it multivariate TPE falls back to independent sampling, since the baseline
    trial has no parameters and empties the intersection of every trial's space (which is
    also why GPSampler, which models only that intersection, draws at random here)."""
    return SnapshotTPESampler(
        seed=seed,
        n_startup_trials=n_startup_trials,
        multivariate=True,
        group=True,
        constant_liar=True,
    )


SAMPLERS.register("tpe", tpe)
SAMPLERS.register(
    "nsga2", lambda seed: optuna.samplers.NSGAIISampler(seed=seed, population_size=20)
)
SAMPLERS.register("gp", lambda seed: optuna.samplers.GPSampler(seed=seed))
SAMPLERS.register("random", lambda seed: optuna.samplers.RandomSampler(seed=seed))


def make_sampler(name: str, seed: int | None) -> optuna.samplers.BaseSampler:
    """The sampler ``name`` drawing from ``seed``; an unknown name is refused listing the known."""
    if name not in SAMPLERS:
        raise UserError(f"unknown sampler {name!r}; choose one of: {', '.join(SAMPLERS)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)  # TPE's group option
        return SAMPLERS[name](seed)
