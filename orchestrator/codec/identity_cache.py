"""A bounded cache of values derived from objects that never change, keyed by identity.

For the frozen definitions (a WorkflowDef, a TaskDef) that recur, as the very same objects, in
every event and state made from them: their JSON text (wire_convert) and their pickled bytes
(engine/statecodec.py) are computed once per object. Identity, not equality: definitions hold
JSON parts (dicts), so they are not hashable, and comparing them would cost what the cache saves.
Each entry holds its object, so the object's id cannot be reused while it is cached; when full,
the oldest entry goes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class IdentityCache(Generic[V]):
    __slots__ = ("_items", "_size")

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: dict[int, tuple[object, V]] = {}

    def get(self, obj: object, make: Callable[[object], V]) -> V:
        """The value cached for `obj`, or `make(obj)` (cached; not cached if it raises)."""
        hit = self._items.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        value = make(obj)
        if len(self._items) >= self._size:
            del self._items[next(iter(self._items))]
        self._items[id(obj)] = (obj, value)
        return value
