"""A faster `dataclasses.replace` for the state's frozen, slotted dataclasses.

evolve copies a ~31-field WorkflowState and a ~33-field TaskState for almost every event, which
made copying the top item of the processor's profile. `dataclasses.replace` goes through field
introspection and `__init__` (tens of µs); a loop over `__slots__` with getattr and
`object.__setattr__` still costs ~4 µs. So for each class this generates once (and caches) a
copier with the fields unrolled: one keyword-only parameter per field, each slot written through
its member descriptor's `__set__` (the fastest write that bypasses the frozen `__setattr__`,
~2 µs per WorkflowState copy). A keyword that is not a field raises TypeError, like
`dataclasses.replace`.

Only for slotted dataclasses without `__post_init__` (WorkflowState, TaskState): the copy skips
`__init__`, so it must have nothing to run.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_MISSING = object()  # "not given": None is a legitimate new value
_RESERVED = frozenset({"obj", "new"})  # names inside the generated function
_COPIERS: dict[type, Callable[..., Any]] = {}


def replace(obj: T, /, **changes: Any) -> T:
    """A copy of `obj` with `changes`, as `dataclasses.replace` would make (without __init__)."""
    cls = type(obj)
    copy = _COPIERS.get(cls) or copier(cls)
    return copy(obj, **changes)  # type: ignore[no-any-return]


def copier(cls: type[T]) -> Callable[..., T]:
    """The (cached) copier of `cls`: `copy(obj, **changes) -> T`; call it directly in hot paths."""
    copy = _COPIERS.get(cls)
    if copy is None:
        copy = _COPIERS[cls] = _generate(cls)
    return copy


def _generate(cls: type) -> Callable[..., Any]:
    if not dataclasses.is_dataclass(cls) or "__slots__" not in cls.__dict__:
        raise TypeError(f"fastcopy needs a slotted dataclass, not {cls.__qualname__}")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__qualname__} has __post_init__: use dataclasses.replace")
    fields = dataclasses.fields(cls)
    if any(f.name in _RESERVED or f.name.startswith("_") for f in fields):
        raise TypeError(f"{cls.__qualname__} has a field name the generated copier uses")
    settable = [f.name for f in fields if f.init]  # init=False fields: copied, not replaceable
    namespace: dict[str, Any] = {"_MISSING": _MISSING, "_new": object.__new__, "_cls": cls}
    lines = []
    for f in fields:
        namespace[f"_set_{f.name}"] = _member(cls, f.name).__set__
        value = f"obj.{f.name} if {f.name} is _MISSING else {f.name}" if f.init else f"obj.{f.name}"
        lines.append(f"    _set_{f.name}(new, {value})")
    params = ", ".join(f"{name}=_MISSING" for name in settable)
    name = f"replace_{cls.__name__}"
    source = f"def {name}(obj, /, *, {params}):\n    new = _new(_cls)\n"
    source += "\n".join(lines) + "\n    return new\n"
    exec(compile(source, f"<fastcopy {cls.__qualname__}>", "exec"), namespace)
    copy: Callable[..., Any] = namespace[name]
    copy.__qualname__ = name
    return copy


def _member(cls: type, name: str) -> Any:
    """The slot's member descriptor (from the class that declares the slot)."""
    for klass in cls.__mro__:
        member = klass.__dict__.get(name)
        if isinstance(member, types.MemberDescriptorType):
            return member
    raise TypeError(f"{cls.__qualname__}.{name} is not a slot")
