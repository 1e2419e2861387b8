"""JSON-able rendering of commands, events and effects, with a "type" discriminator.

Byte-stable: `dumps` sorts keys and uses fixed separators, so golden files and the property
tests can compare bytes. Definitions are rendered in Conductor JSON via definitions_json.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from enum import Enum
from typing import Any

from orchestrator.domain import commands, effects, events
from orchestrator.domain.definitions import JSON, TaskDef, WorkflowDef, WorkflowTask
from orchestrator.domain.definitions_json import (
    parse_task_def,
    parse_workflow_def,
    task_def_to_json,
    workflow_def_to_json,
)

_EVENTS = {cls.__name__: cls for cls in events.EVENT_TYPES}
_COMMANDS = {cls.__name__: cls for cls in commands.COMMAND_TYPES}
_EFFECTS = {
    cls.__name__: cls for cls in (effects.DispatchTask, effects.EmitCommand, effects.ScheduleTimer)
}


def to_jsonable(obj: Any) -> dict[str, JSON]:
    """A command, event or effect as a JSON object with its class name under "type"."""
    out: dict[str, JSON] = {"type": type(obj).__name__}
    for f in dataclasses.fields(obj):
        out[f.name] = _value(getattr(obj, f.name))
    return out


def dumps(obj: Any) -> str:
    return json.dumps(to_jsonable(obj), sort_keys=True, separators=(",", ":"))


def _value(value: Any) -> JSON:
    if isinstance(value, WorkflowDef):
        return workflow_def_to_json(value)
    if isinstance(value, TaskDef):
        return task_def_to_json(value)
    if isinstance(value, WorkflowTask):
        return workflow_def_to_json(WorkflowDef(name="_", tasks=(value,)))["tasks"][0]
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(value)
    if isinstance(value, tuple):
        return [_value(v) for v in value]
    return value


def event_from_jsonable(data: dict[str, JSON]) -> events.Event:
    return typing.cast(events.Event, _build(_EVENTS[data["type"]], data))


def command_from_jsonable(data: dict[str, JSON]) -> commands.Command:
    return typing.cast(commands.Command, _build(_COMMANDS[data["type"]], data))


def effect_from_jsonable(data: dict[str, JSON]) -> effects.Effect:
    return typing.cast(effects.Effect, _build(_EFFECTS[data["type"]], data))


def _build(cls: type[Any], data: dict[str, JSON]) -> Any:
    hints = _hints(cls)
    kwargs = {
        f.name: _parse(hints[f.name], data[f.name])
        for f in dataclasses.fields(cls)
        if f.name in data
    }
    return cls(**kwargs)


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _parse(hint: Any, value: JSON) -> Any:
    if value is None:
        return None
    for option in typing.get_args(hint) if _is_union(hint) else (hint,):
        if option is type(None):
            continue
        return _parse_one(option, value)
    return value


def _is_union(hint: Any) -> bool:
    import types

    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _parse_one(hint: Any, value: JSON) -> Any:
    if hint is WorkflowDef:
        return parse_workflow_def(value)
    if hint is TaskDef:
        return parse_task_def(value)
    if hint is WorkflowTask:
        return parse_workflow_def({"name": "_", "tasks": [value]}).tasks[0]
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if typing.get_origin(hint) is tuple:
        return tuple(value)
    if hint is commands.Command or _is_command_union(hint):
        return command_from_jsonable(value)
    return value


def _is_command_union(hint: Any) -> bool:
    return _is_union(hint) and commands.StartWorkflow in typing.get_args(hint)
