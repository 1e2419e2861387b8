"""How execution states are stored in the processor's state table (its changelog topic).

The table is a disposable cache of the event log (ADR 0003), private to the processors, so it
uses pickle: the fastest complete encoding of the frozen dataclasses and persistent maps, and
never read by anything but the processor of the same version. Changing the state's shape needs
no migration: delete the changelog topic and the processors rebuild it from the events topic
(`orchestrator replay`).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Any

from faust.serializers import codecs

from orchestrator.domain.state import WorkflowState

CODEC_NAME = "wfstate"


@dataclass(frozen=True, slots=True)
class TableEntry:
    partition: int  # the commands partition of the workflow tree (faust's changelog partition)
    state: WorkflowState


class _StateCodec(codecs.Codec):
    def _dumps(self, obj: Any) -> bytes:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)

    def _loads(self, s: bytes) -> Any:
        return pickle.loads(s)


def encode_entry(entry: TableEntry) -> bytes:
    """A changelog value exactly as the table's codec writes it (what recovery decodes)."""
    return _StateCodec().dumps(entry)


def decode_entry(data: bytes) -> TableEntry:
    """A changelog value back into its entry (the inverse of `encode_entry`)."""
    entry = _StateCodec().loads(data)
    if not isinstance(entry, TableEntry):
        raise TypeError(f"not a state table entry: {type(entry).__name__}")
    return entry


def register_state_codec() -> None:
    if CODEC_NAME not in codecs.codecs:
        codecs.register(CODEC_NAME, _StateCodec())
