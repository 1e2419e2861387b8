"""The processor's state changelog records: one execution state per record, keyed by workflow id.

The changelog is a disposable cache of the event log (ADR 0003), private to the processors, so
the state itself is pickled: the fastest complete encoding of the frozen dataclasses and maps,
never read by anything but a processor of the same version. Changing the state's shape needs no
migration: stop the processors, delete the changelog topic, and they rebuild it from the events
topic (`orchestrator replay`).

Every record starts with a fixed head, so that recovery can keep the newest record per execution,
tell finished ones from running ones and see when they ended **without unpickling** anything:

    b"OSC1" | seq (int64) | flags (uint8) | ended_at (int64 epoch ms, 0 while running) | body

- flags TERMINAL: the execution has ended (kept as bytes in memory, evicted after retention);
- flags STORED: the body is empty and the state is in the state store (engine/store.py), because
  it outgrew what a Kafka record may carry (ADR 0008); the store holds the full record;
- a tombstone (no value) means the execution left the changelog (retention, engine/cache.py).
"""

from __future__ import annotations

import copyreg
import dataclasses
import functools
import importlib
import inspect
import io
import itertools
import operator
import pickle
import pkgutil
import struct
from dataclasses import dataclass
from typing import Any

from pyrsistent import PSet, pset

from orchestrator.codec.identity_cache import IdentityCache
from orchestrator.domain.definitions import TaskDef, WorkflowDef
from orchestrator.domain.state import WorkflowState

MAGIC = b"OSC1"
_HEAD = struct.Struct(">4sqBq")
HEAD_LENGTH = _HEAD.size
TERMINAL = 0x01
STORED = 0x02


class StateRecordError(ValueError):
    """A changelog value that is not a state record of this version (or is corrupt)."""


@dataclass(frozen=True, slots=True)
class RecordHead:
    seq: int
    flags: int
    ended_at: int

    @property
    def terminal(self) -> bool:
        return bool(self.flags & TERMINAL)

    @property
    def stored(self) -> bool:
        return bool(self.flags & STORED)


def encode_state(state: WorkflowState) -> bytes:
    """The full changelog record of `state` (head + pickled state)."""
    out = io.BytesIO()
    out.write(_head(state, 0))
    _pickler(out).dump(state)
    return out.getvalue()


def stored_marker(record: bytes) -> bytes:
    """The changelog record that stands for `record` once `record` is in the state store."""
    head = read_head(record)
    return _HEAD.pack(MAGIC, head.seq, head.flags | STORED, head.ended_at)


def read_head(value: bytes) -> RecordHead:
    if len(value) < HEAD_LENGTH or value[:4] != MAGIC:
        raise StateRecordError("not a state record of this version (no OSC1 head)")
    _, seq, flags, ended_at = _HEAD.unpack_from(value)
    return RecordHead(seq, flags, ended_at)


def decode_state(record: bytes) -> WorkflowState:
    """The state of a full record (not of a STORED marker: fetch that one from the store)."""
    head = read_head(record)
    if head.stored:
        raise StateRecordError(f"seq {head.seq} is a marker; its state is in the state store")
    try:
        state = pickle.loads(memoryview(record)[HEAD_LENGTH:])
    except Exception as exc:  # any unpickling problem: a corrupt or foreign record
        raise StateRecordError(f"cannot unpickle the state: {type(exc).__name__}: {exc}") from None
    if not isinstance(state, WorkflowState):
        raise StateRecordError(f"not an execution state: {type(state).__name__}")
    return state


def _head(state: WorkflowState, flags: int) -> bytes:
    if state.is_terminal:
        flags |= TERMINAL
    return _HEAD.pack(MAGIC, state.seq, flags, state.ended_at if state.is_terminal else 0)


# -- faster pickling of the frozen, slotted dataclasses ---------------------------------------
# pickle handles a `dataclass(slots=True)` through `dataclasses._dataclass_getstate`, which calls
# `fields()` for each of the ~25 objects of a state: the benchmark's profile put state pickling
# at 28-31 % of the processor's CPU. A reducer per class with a precomputed attrgetter of its
# fields (inherited ones included) is 2x faster (202 -> 96 µs per state) and the bench's
# processor CPU per workflow went from 11.8 to 9.1 ms. Records written either way load either
# way; `_make` must stay importable here for the records written with it.


def _make(cls: type, values: tuple[Any, ...]) -> Any:
    obj = object.__new__(cls)
    names = _field_names(cls)
    if len(values) < len(names):  # written before trailing fields were added: their defaults
        values = (*values, *_defaults(cls, names[len(values) :]))
    for name, value in zip(names, values, strict=True):
        object.__setattr__(obj, name, value)
    return obj


def _defaults(cls: type, names: tuple[str, ...]) -> list[Any]:
    found = {f.name: f for f in dataclasses.fields(cls)}
    values = []
    for name in names:
        spec = found[name]
        if spec.default is not dataclasses.MISSING:
            values.append(spec.default)
        elif spec.default_factory is not dataclasses.MISSING:
            values.append(spec.default_factory())
        else:
            raise TypeError(f"{cls.__name__}.{name} has no default: rebuild the state table")
    return values


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


_FIELDS: dict[type, tuple[str, ...]] = {}


def _reducer(cls: type) -> Any:
    names = _field_names(cls)
    if len(names) == 1:
        get_one = operator.attrgetter(names[0])
        return lambda obj: (_make, (cls, (get_one(obj),)))
    get = operator.attrgetter(*names)
    return lambda obj: (_make, (cls, get(obj)))


# pyrsistent's own reducer builds the list by iterating in Python; flattening the map's buckets
# in C gives the same argument several times faster. The pickled form is unchanged: pset(list).
_chain = itertools.chain.from_iterable


def _reduce_pset(s: PSet) -> Any:
    return pset, ([k for k, _ in _chain(filter(None, s._map._buckets))],)  # type: ignore[attr-defined]


def _slotted_domain_classes() -> set[type]:
    import orchestrator.domain as domain

    found: set[type] = set()
    for info in pkgutil.walk_packages(domain.__path__, "orchestrator.domain."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if dataclasses.is_dataclass(cls) and "__slots__" in cls.__dict__:
                found.add(cls)
    return found


# Definitions (the WorkflowDef of every state, the TaskDef of every task) were ~40 % of a bench
# state's pickling (90 -> 54 µs without them), and they are the same few objects, the registry's,
# in every state. Each is pickled once into bytes (cached by identity), and a state's record
# embeds those bytes: one string copy instead of ~40 objects through Python reducers. Loading
# shares one object per distinct bytes.
_SHARED_CACHE = 1024
_shared_bytes: IdentityCache[bytes] = IdentityCache(_SHARED_CACHE)


def _reduce_shared(obj: Any) -> Any:
    return _shared, (_shared_bytes.get(obj, lambda o: _dumps_with(_plain_table(), o)),)


@functools.lru_cache(maxsize=_SHARED_CACHE)
def _shared(data: bytes) -> Any:
    return pickle.loads(data)


@functools.cache
def _plain_table() -> dict[type, Any]:
    """Reducers for every slotted domain class, definitions pickled in full."""
    table = dict(copyreg.dispatch_table)
    for cls in _slotted_domain_classes():
        table[cls] = _reducer(cls)
    table[PSet] = _reduce_pset
    return table


@functools.cache
def _dispatch_table() -> dict[type, Any]:
    return {**_plain_table(), WorkflowDef: _reduce_shared, TaskDef: _reduce_shared}


def _dumps_with(table: dict[type, Any], obj: Any) -> bytes:
    out = io.BytesIO()
    pickler = pickle.Pickler(out, pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = table
    pickler.dump(obj)
    return out.getvalue()


def _pickler(out: io.BytesIO) -> pickle.Pickler:
    pickler = pickle.Pickler(out, pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _dispatch_table()
    return pickler
