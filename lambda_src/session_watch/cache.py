"""Bounded caches that live for an execution environment (each owned by the object that uses it)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Hashable

DEFAULT_SIZE = 4096


class Lru(OrderedDict):
    """A dict that forgets its least recently stored entries beyond ``size``."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        super().__init__()
        self._size = size

    def put(self, key: Hashable, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self._size:
            self.popitem(last=False)


class LruSet:
    """A set that forgets its oldest members beyond ``size``."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._items = Lru(size)

    def add(self, key: Hashable) -> None:
        self._items.put(key, True)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def discard(self, key: Hashable) -> None:
        self._items.pop(key, None)
