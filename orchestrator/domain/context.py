"""The read-only ports `decide` may consult (a dict-backed one: orchestrator.testing.context). No I/O happens through them during a decision
except deterministic lookups (definitions) and bounded, deterministic script evaluation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator.domain.definitions import TaskDef, WorkflowDef

if TYPE_CHECKING:
    from orchestrator.domain.ports import ScriptEvaluator


@dataclass(frozen=True, slots=True)
class Context:
    """`workflow_def(name, None)` means the latest version; `task_def(name)` may return None."""

    workflow_def: Callable[[str, int | None], WorkflowDef | None]
    task_def: Callable[[str], TaskDef | None]
    scripts: ScriptEvaluator
