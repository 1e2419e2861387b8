"""A faster `dataclasses.replace` for the state's frozen, slotted dataclasses.

`dataclasses.replace` re-runs `__init__` through field introspection (~50 µs for the ~35-field
WorkflowState); evolve copies the state a few times per event, so this copies slots directly
(a few µs). Only for classes without __post_init__ or validation (WorkflowState, TaskState).
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")
_set = object.__setattr__


def replace(obj: T, **changes: Any) -> T:
    cls = type(obj)
    new = object.__new__(cls)
    for name in cls.__slots__:  # type: ignore[attr-defined]
        _set(new, name, changes[name] if name in changes else getattr(obj, name))
    return new
