"""How the library's logging and Python's warnings reach the terminal during a command."""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections.abc import Iterator


class _AboveProgressBars(logging.Handler):
    """The one channel the library speaks through: its notices (INFO) on stdout, warnings and
    ``-v``'s details on stderr, each above any progress bar instead of through it; our own
    warnings are marked as our errors are."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        text = record.getMessage().rstrip()
        if record.name.startswith("autocompress") and record.levelno >= logging.WARNING:
            text = f"autocompress: warning: {text}"
        tqdm.write(text, file=sys.stdout if record.levelno == logging.INFO else sys.stderr)


@contextlib.contextmanager
def library_output(*, verbose: bool) -> Iterator[None]:
    """The library's notices are printed, and its warnings. Python warnings (torch.ao
    deprecations, pruning notes) go to logging and are printed with ``-v`` only, like the
    warnings each trial records (the study keeps those anyway): unasked, they would break
    tables and progress bars."""
    shown = _AboveProgressBars()
    library_handler = shown if verbose else logging.NullHandler()
    library, ours = logging.getLogger("py.warnings"), logging.getLogger("autocompress")
    level = ours.level
    library.addHandler(library_handler)
    ours.addHandler(shown)
    ours.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.captureWarnings(True)
    try:
        with warnings.catch_warnings():
            if verbose and not sys.warnoptions:  # deprecations too, once per place
                warnings.simplefilter("default")
            yield
    finally:
        logging.captureWarnings(False)
        library.removeHandler(library_handler)
        ours.removeHandler(shown)
        ours.setLevel(level)
