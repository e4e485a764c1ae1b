"""A fixed selection/test split of a data set's items by a stable hash of each item's name.

The search chooses its points on the selection items; the test items only count the chosen
points afterwards, so what a study reports is not what it was selected on. A hash of the name
(not a random draw over the list) keeps every item on its side when items are added or
removed, and is the same on every machine and run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = ["in_test_set", "split_names"]


def in_test_set(name: str, share: float) -> bool:
    """Whether the item called ``name`` is a test item when ``share`` of all items are."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big") < share * 2**64


def split_names(names: Iterable[str], share: float) -> tuple[list[str], list[str]]:
    """``names`` as (selection, test), each in the given order."""
    selection, test = [], []
    for name in names:
        (test if in_test_set(name, share) else selection).append(name)
    return selection, test
