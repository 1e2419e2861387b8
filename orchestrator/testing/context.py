"""A Context over plain in-memory definitions (tests, the in-memory runtime)."""

from __future__ import annotations

from collections.abc import Iterable

from orchestrator.domain.context import Context
from orchestrator.domain.definitions import TaskDef, WorkflowDef
from orchestrator.domain.ports import ScriptEvaluator
from orchestrator.testing.scripts import FakeScripts


def dict_context(
    workflow_defs: Iterable[WorkflowDef] = (),
    task_defs: Iterable[TaskDef] = (),
    scripts: ScriptEvaluator | None = None,
) -> Context:
    wf_by_key = {(d.name, d.version): d for d in workflow_defs}
    td_by_name = {d.name: d for d in task_defs}

    def workflow_def(name: str, version: int | None) -> WorkflowDef | None:
        if version is not None:
            return wf_by_key.get((name, version))
        versions = [v for (n, v) in wf_by_key if n == name]
        return wf_by_key[(name, max(versions))] if versions else None

    if scripts is None:
        scripts = FakeScripts()
    return Context(workflow_def=workflow_def, task_def=td_by_name.get, scripts=scripts)
