"""One shape for every kind of extension: a named registry that built-ins and plug-ins add to.

Techniques, model families, artifact formats, quantization backends, samplers and space
layouts are each a :class:`Registry`; an extension is one module that calls ``register`` when
imported (its package's ``__init__`` imports the built-in ones), and a study's configuration
is validated against the registry's names.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from autocompress.errors import UserError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Items by name, in registration order; an unknown name is refused listing the known."""

    def __init__(self, what: str):
        self.what = what  # how an error names an item: "preset", "artifact format", ...
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> T:
        """Add ``item`` under ``name``, or replace the one there (how a backend plugs in)."""
        self._items[name] = item
        return item

    def __getitem__(self, name: str) -> T:
        if name not in self._items:
            raise UserError(f"unknown {self.what} {name!r}; choose from {', '.join(self._items)}")
        return self._items[name]

    def get(self, name: str) -> T | None:
        return self._items.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def names(self) -> tuple[str, ...]:
        return tuple(self._items)

    def values(self) -> tuple[T, ...]:
        return tuple(self._items.values())
