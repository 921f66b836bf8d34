"""A bounded least-recently-used cache for compiled models, keyed by the sha256 of their text."""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Generic, TypeVar

V = TypeVar("V")


class LRUCache(Generic[V]):
    """Bounded by entry count and by an estimated size in bytes; evicts least recently used first."""

    def __init__(self, max_items: int, max_bytes: int, on_evict: Callable[[str], None] | None = None):
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._on_evict = on_evict
        self._items: OrderedDict[str, tuple[V, int]] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def get(self, key: str) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: str, value: V, size: int) -> None:
        if key in self._items:
            self.bytes -= self._items.pop(key)[1]
        self._items[key] = (value, size)
        self.bytes += size
        while len(self._items) > 1 and (len(self._items) > self.max_items or self.bytes > self.max_bytes):
            old_key, (_, old_size) = self._items.popitem(last=False)
            self.bytes -= old_size
            if self._on_evict:
                self._on_evict(old_key)
