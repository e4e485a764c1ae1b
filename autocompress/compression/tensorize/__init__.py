"""Low-rank factorisation (TensorLy): Tucker-2 and CP of convolutions, SVD of Linear layers.

The decompositions are in ``factorize.py`` (VBMF's rank choice in ``vbmf.py``), the layer
replacement in ``transform.py``, the search-space part in ``space.py`` (within the time cap's
limits, ``limits.py``); registered here.
"""

from torch import nn

from autocompress.compression.names import Names
from autocompress.compression.registry import Technique, register
from autocompress.compression.tensorize import space
from autocompress.compression.tensorize.limits import CpLayer, cp_layer, rank_limit, within_cap
from autocompress.compression.tensorize.step import TensorizeStep
from autocompress.compression.tensorize.transform import factor_names, tensorize

__all__ = ["CpLayer", "cp_layer", "factor_names", "rank_limit", "tensorize", "within_cap"]


def _check(names: Names, index: int, step: TensorizeStep) -> None:
    names.known(index, step.ranks, names.decomposable, "decomposable layer")
    for name in step.ranks:
        module = names.modules[name]
        factors = factor_names(name, module, step.method)
        # CP's middle factors of a convolution are depthwise: not factorised again.
        cp_conv = step.method == "cp" and not isinstance(module, nn.Linear)
        depthwise = set(factors[1:-1]) if cp_conv else set()
        names.factorise(name, factors, [f for f in factors if f not in depthwise])


register(
    Technique(
        step_type=TensorizeStep,
        transform=lambda model, step, inputs: tensorize(model, step, inputs.calibration),
        check=_check,
        letter="T",
        suggest=space.suggest,
        point_params=space.point_params,
        recoverable=True,
    )
)
