"""Every test session gets its own empty cache, so tests neither read nor fill the user's."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def isolated_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOCOMPRESS_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield
