"""How execution states are stored in the processor's state table (its changelog topic).

The table is a disposable cache of the event log (ADR 0003), private to the processors, so it
uses pickle: the fastest complete encoding of the frozen dataclasses and persistent maps, and
never read by anything but the processor of the same version. Changing the state's shape needs
no migration: delete the changelog topic and the processors rebuild it from the events topic
(`orchestrator replay`).
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
from dataclasses import dataclass
from typing import Any

from faust.serializers import codecs
from immutables import Map
from pyrsistent import PMap, PSet, pset

from orchestrator.codec.identity_cache import IdentityCache
from orchestrator.domain.definitions import TaskDef, WorkflowDef
from orchestrator.domain.state import WorkflowState

CODEC_NAME = "wfstate"


@dataclass(frozen=True, slots=True)
class TableEntry:
    partition: int  # the commands partition of the workflow tree (faust's changelog partition)
    state: WorkflowState


@dataclass(frozen=True, slots=True)
class PackedEntry:
    """A finished execution held in the processor's cache as its changelog record.

    Finished executions are nearly all of a long-running processor's cache and are rarely read
    again (a late report, a restart). As objects, each bench workflow is a few hundred
    containers that every full pass of the garbage collector walks: with 12,000 of them cached
    the passes took up to 750 ms, stalling every batch behind them. As bytes they are one
    untracked object, and smaller (RSS 419 -> 319 MB for those 12,000). Reading `state`
    decodes the record anew.
    """

    partition: int
    seq: int
    blob: bytes

    @property
    def state(self) -> WorkflowState:
        return decode_entry(self.blob).state


CacheEntry = TableEntry | PackedEntry


def packed(entry: TableEntry, blob: bytes) -> CacheEntry:
    """`entry` as its record `blob` (its `encode_entry`) if its execution is finished."""
    if entry.state.is_terminal:
        return PackedEntry(entry.partition, entry.state.seq, blob)
    return entry


def entry_seq(entry: CacheEntry) -> int:
    return entry.seq if isinstance(entry, PackedEntry) else entry.state.seq


class _StateCodec(codecs.Codec):
    def _dumps(self, obj: Any) -> bytes:
        return _fast_dumps(obj)

    def _loads(self, s: bytes) -> Any:
        return pickle.loads(s)


_CODEC = _StateCodec()  # one for the process: encode_entry runs once per written state


def encode_entry(entry: TableEntry) -> bytes:
    """A changelog value exactly as the table's codec writes it (what recovery decodes)."""
    return _CODEC.dumps(entry)


# -- faster pickling of the frozen, slotted dataclasses ---------------------------------------
# pickle handles a `dataclass(slots=True)` through `dataclasses._dataclass_getstate`, which calls
# `fields()` for each of the ~25 objects of a state: the benchmark's profile put state pickling
# at 28-31 % of the processor's CPU. A reducer per class with a precomputed attrgetter of its
# fields (inherited ones included) is 2x faster (202 -> 96 µs per state) and the bench's
# processor CPU per workflow went from 11.8 to 9.1 ms. Records written either way load either
# way; `_make` must stay importable here for the records written with it.


def _make(cls: type, values: tuple[Any, ...]) -> Any:
    obj = object.__new__(cls)
    for name, value in zip(_field_names(cls), values, strict=True):
        object.__setattr__(obj, name, value)
    return obj


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
    for cls in _slotted_domain_classes() | {TableEntry}:
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


def _fast_dumps(obj: Any) -> bytes:
    return _dumps_with(_dispatch_table(), obj)


def decode_entry(data: bytes) -> TableEntry:
    """A changelog value back into its entry (the inverse of `encode_entry`)."""
    entry = _CODEC.loads(data)
    if not isinstance(entry, TableEntry):
        raise TypeError(f"not a state table entry: {type(entry).__name__}")
    if isinstance(entry.state.tasks, PMap):  # written before the maps became immutables.Map
        entry = TableEntry(entry.partition, _with_maps(entry.state))
    return entry


_MAP_FIELDS = ("tasks", "by_ref", "latest_iteration", "join_waiting", "awaited_by")


def _with_maps(state: WorkflowState) -> WorkflowState:
    return dataclasses.replace(state, **{f: Map(getattr(state, f).items()) for f in _MAP_FIELDS})


def register_state_codec() -> None:
    if CODEC_NAME not in codecs.codecs:
        codecs.register(CODEC_NAME, _CODEC)
