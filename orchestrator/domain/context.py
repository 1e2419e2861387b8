"""The read-only ports `decide` may consult (a dict-backed one: orchestrator.testing.context). No I/O happens through them during a decision
except deterministic lookups (definitions) and bounded, deterministic script evaluation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from orchestrator.domain.definitions import TaskDef, WorkflowDef
from orchestrator.domain.payload_limits import PayloadLimits

if TYPE_CHECKING:
    from orchestrator.domain.ports import ScriptEvaluator


@dataclass(frozen=True, slots=True)
class Context:
    """`workflow_def(name, None)` means the latest version; `task_def(name)` may return None.
    `payload_limits`: the hard maximums of payloads the core computes itself (none by default)."""

    workflow_def: Callable[[str, int | None], WorkflowDef | None]
    task_def: Callable[[str], TaskDef | None]
    scripts: ScriptEvaluator
    # Most events one decision may emit: a loop of system tasks that never waits would
    # otherwise hold the processor in one cascade forever (issue 15). Past it, the workflow
    # fails with the reason (decide.py). A limit, so live and replay agree only if it does not
    # change between them; it is recorded in the failure's reason.
    max_decision_events: int = 20_000
    payload_limits: PayloadLimits = field(default_factory=PayloadLimits)
