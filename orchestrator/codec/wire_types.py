"""How each domain dataclass field maps to Avro: one classification, shared by the schema
generator (scripts/gen_schemas.py), the sync test and the runtime mapping in wire.py.

Mapping (see docs/adr/0004-wire-contract.md):

| Python annotation                    | Avro                                         |
|--------------------------------------|----------------------------------------------|
| str                                  | string                                       |
| int                                  | long (timestamp-millis for TIMESTAMP_FIELDS) |
| bool / float                         | boolean / double                             |
| JSON (typing.Any)                    | string holding JSON text ("null" for None)   |
| a StrEnum                            | string (allowed values in the field's doc)   |
| tuple[str, ...]                      | array of string                              |
| dict[str, str]                       | map of string                                |
| WorkflowDef / TaskDef / WorkflowTask | string holding Conductor's definition JSON   |
| X | None                             | ["null", X] with default null                |
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

from orchestrator.domain.commands import COMMAND_TYPES, CommandBase
from orchestrator.domain.definitions import TaskDef, WorkflowDef, WorkflowTask
from orchestrator.domain.effects import DispatchTask
from orchestrator.domain.events import EVENT_TYPES, EventBase

NAMESPACE = "io.orchestrator.v1"
COMMON_NS = f"{NAMESPACE}.common"
COMMANDS_NS = f"{NAMESPACE}.commands"
EVENTS_NS = f"{NAMESPACE}.events"
TASKS_NS = f"{NAMESPACE}.tasks"
DEFINITIONS_NS = f"{NAMESPACE}.definitions"
INFRA_NS = f"{NAMESPACE}.infra"

EVENT_HEADER = f"{COMMON_NS}.EventHeader"
COMMAND_HEADER = f"{COMMON_NS}.CommandHeader"
TASK_DISPATCH = f"{TASKS_NS}.TaskDispatch"
DEFINITION_RECORD = f"{DEFINITIONS_NS}.DefinitionRecord"
DEAD_LETTER = f"{INFRA_NS}.DeadLetter"
REJECTION = f"{INFRA_NS}.Rejection"
# The other branch of every JSON field: a reference to a payload in the payload store (ADR 0011).
EXTERNAL_PAYLOAD = f"{COMMON_NS}.ExternalPayload"

# int fields holding epoch milliseconds: Avro long with logicalType timestamp-millis.
TIMESTAMP_FIELDS = frozenset({"at", "due_at", "scheduled_time"})
# Fields of the bases that travel in the record's `header`, not as fields of their own.
EVENT_BASE_FIELDS = tuple(f.name for f in dataclasses.fields(EventBase))
COMMAND_BASE_FIELDS = tuple(f.name for f in dataclasses.fields(CommandBase))

# The representable range of timestamp-millis in every Avro library we know of (Python's
# datetime: years 1..9999). Values outside are refused at encoding, not at decoding.
MIN_TIMESTAMP_MS = -62_135_596_800_000
MAX_TIMESTAMP_MS = 253_402_300_799_999


class Kind(Enum):
    STRING = "string"
    LONG = "long"
    TIMESTAMP = "timestamp"
    BOOLEAN = "boolean"
    DOUBLE = "double"
    JSON = "json"
    ENUM = "enum"
    STRING_ARRAY = "string_array"
    STRING_MAP = "string_map"
    WORKFLOW_DEF = "workflow_def"
    TASK_DEF = "task_def"
    WORKFLOW_TASK = "workflow_task"


_SIMPLE: dict[Any, Kind] = {
    str: Kind.STRING,
    int: Kind.LONG,
    bool: Kind.BOOLEAN,
    float: Kind.DOUBLE,
    WorkflowDef: Kind.WORKFLOW_DEF,
    TaskDef: Kind.TASK_DEF,
    WorkflowTask: Kind.WORKFLOW_TASK,
}
DEFINITION_KINDS = frozenset({Kind.WORKFLOW_DEF, Kind.TASK_DEF, Kind.WORKFLOW_TASK})


class UnmappableField(TypeError):
    """A dataclass field has a type the wire contract has no mapping for."""


@dataclass(frozen=True, slots=True)
class WireField:
    name: str
    kind: Kind
    optional: bool  # X | None (JSON fields are never optional: None is the text "null")
    enum: type[StrEnum] | None
    has_default: bool
    default: Any  # the Python default (a default_factory is called once)


@dataclass(frozen=True, slots=True)
class WireType:
    cls: type
    full_name: str
    header: str | None  # EVENT_HEADER, COMMAND_HEADER or None (a flat record)
    fields: tuple[WireField, ...]  # the record's own fields, in declaration order

    @property
    def name(self) -> str:
        return self.full_name.rpartition(".")[2]

    @property
    def namespace(self) -> str:
        return self.full_name.rpartition(".")[0]


def classify(owner: str, name: str, annotation: Any) -> tuple[Kind, bool, type[StrEnum] | None]:
    """(kind, optional, enum class) of one annotation; raises UnmappableField."""
    optional = False
    args: tuple[Any, ...]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        branches = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(branches) != 1:
            raise UnmappableField(f"{owner}.{name}: unions other than `X | None` are not mapped")
        annotation, optional = branches[0], True
    if annotation is Any:
        return Kind.JSON, False, None
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return Kind.ENUM, optional, annotation
    if annotation in _SIMPLE:
        kind = _SIMPLE[annotation]
        if kind is Kind.LONG and name in TIMESTAMP_FIELDS:
            kind = Kind.TIMESTAMP
        return kind, optional, None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is tuple and args == (str, Ellipsis):
        return Kind.STRING_ARRAY, optional, None
    if origin is dict and args == (str, str):
        return Kind.STRING_MAP, optional, None
    raise UnmappableField(
        f"{owner}.{name}: no wire mapping for {annotation!r}; extend orchestrator/codec/wire_types.py"
    )


def wire_type(cls: type, full_name: str, header: str | None, skip: tuple[str, ...]) -> WireType:
    hints = typing.get_type_hints(cls)
    out: list[WireField] = []
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        kind, optional, enum = classify(cls.__name__, f.name, hints[f.name])
        if f.default is not dataclasses.MISSING:
            has_default, default = True, f.default
        elif f.default_factory is not dataclasses.MISSING:
            has_default, default = True, f.default_factory()
        else:
            has_default, default = False, None
        out.append(WireField(f.name, kind, optional, enum, has_default, default))
    return WireType(cls, full_name, header, tuple(out))


COMMANDS: tuple[WireType, ...] = tuple(
    wire_type(c, f"{COMMANDS_NS}.{c.__name__}", COMMAND_HEADER, COMMAND_BASE_FIELDS)
    for c in COMMAND_TYPES
)
EVENTS: tuple[WireType, ...] = tuple(
    wire_type(c, f"{EVENTS_NS}.{c.__name__}", EVENT_HEADER, EVENT_BASE_FIELDS) for c in EVENT_TYPES
)
DISPATCH: WireType = wire_type(DispatchTask, TASK_DISPATCH, None, ())
DOMAIN_TYPES: tuple[WireType, ...] = (*COMMANDS, *EVENTS, DISPATCH)
