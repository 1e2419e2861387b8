"""Definitions as Conductor's test harness registers them, renamed with a run's prefix.

`defs/*.json` are the workflow definitions of Conductor's test harness
(conductor-oss/conductor, test-harness/src/test/resources, Apache-2.0), unchanged.
`harness_task_def` gives the task definitions that the harness's WorkflowTestUtil registers
at start-up (integration_task_N, task_rt, task_optional, ...), with only the fields the Java
code sets: each server fills in its own defaults, which is part of what is compared.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

DEFS = Path(__file__).with_name("defs")
OWNER = "test@harness.com"

# WorkflowTestUtil.taskDefinitions(): (retryCount, timeoutSeconds, responseTimeoutSeconds, ...)
_SPECIAL: dict[str, dict[str, Any]] = {
    "short_time_out": {"retryCount": 1, "timeoutSeconds": 5, "responseTimeoutSeconds": 5},
    "task_rt": {
        "timeoutSeconds": 120,
        "retryCount": 1,
        "retryDelaySeconds": 0,
        "responseTimeoutSeconds": 10,
    },
    "task_optional": {
        "timeoutSeconds": 5,
        "retryCount": 1,
        "timeoutPolicy": "RETRY",
        "retryDelaySeconds": 0,
        "responseTimeoutSeconds": 5,
    },
    "simple_task_in_sub_wf": {"retryCount": 0},
    "sub_workflow_task": {"retryCount": 1, "responseTimeoutSeconds": 5, "retryDelaySeconds": 0},
    "waitTimeout": {
        "timeoutSeconds": 2,
        "responseTimeoutSeconds": 2,
        "retryCount": 1,
        "timeoutPolicy": "RETRY",
        "retryDelaySeconds": 10,
    },
    "user_task": {
        "timeoutSeconds": 20,
        "responseTimeoutSeconds": 20,
        "retryCount": 1,
        "timeoutPolicy": "RETRY",
        "retryDelaySeconds": 10,
    },
    "test_task_with_concurrency_limit": {"concurrentExecLimit": 1},
    "test_task_with_rateLimits": {"rateLimitFrequencyInSeconds": 10, "rateLimitPerFrequency": 1},
    "test_simple_task_with_rateLimits": {
        "rateLimitFrequencyInSeconds": 10,
        "rateLimitPerFrequency": 1,
    },
    "eventX": {"timeoutSeconds": 10, "responseTimeoutSeconds": 10},
}


def harness_task_def(name: str, **changes: Any) -> dict[str, Any]:
    """The harness's definition of `name` (unprefixed), with `changes` applied."""
    if name in _SPECIAL:
        fields = dict(_SPECIAL[name])
    elif name.startswith("integration_task_0_RT_"):
        fields = {"retryCount": 0, "timeoutSeconds": 120, "responseTimeoutSeconds": 120}
    else:  # integration_task_N: new TaskDef(name, name, email, 1, 120, 120)
        fields = {"retryCount": 1, "timeoutSeconds": 120, "responseTimeoutSeconds": 120}
        fields["description"] = name
    return {"name": name, "ownerEmail": OWNER, **fields, **changes}


def harness_task_defs() -> list[dict[str, Any]]:
    """Every task definition WorkflowTestUtil registers when the harness starts."""
    names = [f"integration_task_{n}" for n in range(21)]
    names += [f"integration_task_0_RT_{n}" for n in range(5)]
    names += list(_SPECIAL)
    return [harness_task_def(name) for name in names]


HARNESS_TASKS = frozenset(d["name"] for d in harness_task_defs())


def load_workflow(resource: str) -> dict[str, Any]:
    """A workflow definition of the harness, by file name (`simple_workflow_1_...json`)."""
    return dict(json.loads((DEFS / resource).read_text()))


def prefixed_task_def(prefix: str, task_def: dict[str, Any]) -> dict[str, Any]:
    renamed = dict(task_def)
    renamed["name"] = _p(prefix, task_def["name"])
    return renamed


def prefixed_workflow(prefix: str, workflow: dict[str, Any]) -> dict[str, Any]:
    """A copy of `workflow` whose own name, task names, sub-workflow names and failure
    workflow carry `prefix` (so runs never collide on either server)."""
    wf = copy.deepcopy(workflow)
    wf["name"] = _p(prefix, wf["name"])
    wf.setdefault("ownerEmail", OWNER)
    failure = wf.get("failureWorkflow")
    if failure and not str(failure).startswith("$"):
        wf["failureWorkflow"] = _p(prefix, failure)
    for task in _all_tasks(wf.get("tasks", [])):
        _prefix_task(prefix, task)
    return wf


def _p(prefix: str, name: str) -> str:
    """`name` with the prefix (once: prefixing is idempotent)."""
    return name if name.startswith(prefix) else prefix + name


def _prefix_task(prefix: str, task: dict[str, Any]) -> None:
    if task.get("name"):
        task["name"] = _p(prefix, task["name"])
    sub = task.get("subWorkflowParam")
    if isinstance(sub, dict):
        if isinstance(sub.get("name"), str) and not sub["name"].startswith("$"):
            sub["name"] = _p(prefix, sub["name"])
        inline = sub.get("workflowDefinition")
        if isinstance(inline, dict):
            sub["workflowDefinition"] = prefixed_workflow(prefix, inline)
    start = (task.get("inputParameters") or {}).get("startWorkflow")
    if isinstance(start, dict) and isinstance(start.get("name"), str):
        start["name"] = (
            start["name"] if start["name"].startswith("$") else _p(prefix, start["name"])
        )
    inline_def = task.get("taskDefinition")
    if isinstance(inline_def, dict) and inline_def.get("name"):
        inline_def["name"] = _p(prefix, inline_def["name"])


def _all_tasks(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every WorkflowTask of a list, nested ones included (cases, forks, loops)."""
    found: list[dict[str, Any]] = []
    for task in tasks:
        found.append(task)
        for branch in (task.get("decisionCases") or {}).values():
            found.extend(_all_tasks(branch))
        found.extend(_all_tasks(task.get("defaultCase") or []))
        for branch in task.get("forkTasks") or []:
            found.extend(_all_tasks(branch))
        found.extend(_all_tasks(task.get("loopOver") or []))
    return found


def task_names(workflow: dict[str, Any], prefix: str = "") -> set[str]:
    """Names (without `prefix`) of every task of a workflow definition, nested ones and those
    of inline sub-workflow definitions included."""
    names: set[str] = set()
    for task in _all_tasks(workflow.get("tasks", [])):
        if isinstance(task.get("name"), str):
            names.add(task["name"].removeprefix(prefix))
        inline = (task.get("subWorkflowParam") or {}).get("workflowDefinition")
        if isinstance(inline, dict):
            names |= task_names(inline, prefix)
    return names
