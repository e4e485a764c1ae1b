"""Every test session gets its own empty cache, so tests neither read nor fill the user's;
and tests that read videos share one tiny generated set."""

import pytest
import torch

from autocompress.data.synthetic import SynthStyle, generate_dataset
from autocompress.models.repnet.network import build_repnet

TINY = SynthStyle(size=(48, 32), fps=10, frames=(24, 48), periods=(3.0, 8.0))


@pytest.fixture(autouse=True, scope="session")
def isolated_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOCOMPRESS_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="session")
def tiny_set(tmp_path_factory):
    """Three short videos in the QUVA layout; tests that change files copy it first."""
    root = tmp_path_factory.mktemp("tiny")
    generate_dataset(root, 3, seed=0, style=TINY)
    return root


@pytest.fixture(scope="session")
def random_repnet_s():
    """repnet-s with a seeded random init, in eval mode: for tests of layer mechanics."""
    torch.manual_seed(0)
    return build_repnet("repnet-s").eval()
