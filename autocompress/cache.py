"""Where autocompress keeps what it can recompute: decoded videos, decompositions, locks."""

import os
from pathlib import Path

CACHE_ENV = "AUTOCOMPRESS_CACHE"


def cache_root() -> Path:
    """``$AUTOCOMPRESS_CACHE``, else ``~/.cache/autocompress``; read at each call."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "autocompress"
