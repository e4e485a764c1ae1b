"""A device whose load the test sets: the eager module pickled whole, loaded back into a runner
whose every run takes a fixed time per parameter (a model's own cost on this device) times the
load in ``AUTOCOMPRESS_TEST_LOAD`` (default 1) when it runs, alike for every artifact.
Registered as the artifact format ``loaded-device``."""

from __future__ import annotations

import os
import time

from torch import nn

from autocompress.backends.formats import ARTIFACT_FORMATS
from tests.plugins.pickle_format import PickledModule

LOAD_VARIABLE = "AUTOCOMPRESS_TEST_LOAD"
MS_PER_PARAMETER = 0.1  # tiny-mlp's 676 parameters: 68 ms a run at load 1, far over jitter


class LoadedRunner:
    def __init__(self, module: nn.Module):
        self.module = module
        self.cost_ms = MS_PER_PARAMETER * sum(p.numel() for p in module.parameters())

    def __call__(self, *inputs):
        output = self.module(*inputs)
        time.sleep(self.cost_ms * float(os.environ.get(LOAD_VARIABLE, "1")) / 1e3)
        return output


class LoadedDevice(PickledModule):
    name = "loaded-device"

    def load(self, data: bytes) -> LoadedRunner:
        return LoadedRunner(super().load(data))

    def recognizes(self, path) -> bool:
        return False  # its files are the pickled-module format's: that one reads them back


ARTIFACT_FORMATS.register(LoadedDevice.name, LoadedDevice())
