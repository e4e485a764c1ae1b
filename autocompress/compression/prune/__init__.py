"""Structured channel pruning (torch-pruning): the technique, registered with its space part.

The transform is in ``transform.py``, the search-space part in ``space.py``.
"""

from autocompress.compression.names import Names
from autocompress.compression.prune import space
from autocompress.compression.prune.step import PruneStep
from autocompress.compression.prune.transform import kept_channels, prune
from autocompress.compression.registry import Technique, register

__all__ = ["kept_channels", "prune"]


def _check(names: Names, index: int, step: PruneStep) -> None:
    names.known(index, step.ratios, names.groups, "prune group")


register(
    Technique(
        step_type=PruneStep,
        transform=lambda model, step, inputs: prune(model, step, inputs.calibration),
        check=_check,
        letter="P",
        suggest=space.suggest,
        point_params=space.point_params,
        recoverable=True,
    )
)
