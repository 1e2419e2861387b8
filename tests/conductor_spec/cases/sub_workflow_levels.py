"""SubWorkflowRetrySpec, SubWorkflowRestartSpec, SubWorkflowRerunSpec: a 3-level workflow (root
-> mid -> leaf) that failed in its leaf, retried / restarted / rerun at each level."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tests.conductor_spec.defs import harness_task_def
from tests.conductor_spec.registry import case
from tests.conductor_spec.session import Session, ended, task_status, tasks_n

PARENT = "integration_test_wf_with_sub_wf"
LEAF = "integration_test_wf"
LINKS = ("retried", "retriedTaskId")


@dataclass
class Levels:
    root: str
    mid: str
    leaf: str


def _failed_three_levels(s: Session, correlation_id: str) -> Levels:
    """The specs' setup(): root -> mid -> leaf, the leaf's integration_task_2 fails (no
    retries), and every level ends FAILED."""
    s.task_defs(harness_task_def("integration_task_2", retryCount=0))
    s.workflows(
        "simple_one_task_sub_workflow_integration_test.json",
        "simple_workflow_1_integration_test.json",
        "workflow_with_sub_workflow_1_integration_test.json",
    )
    workflow_input = {
        "param1": "p1 value",
        "param2": "p2 value",
        "subwf": s.name(PARENT),
        "nextSubwf": s.name(LEAF),
    }
    root = s.start(PARENT, workflow_input, correlation_id=correlation_id)
    s.complete("integration_task_1", {"op": "task1.done"}, label="root t1")
    s.check("root: sub-workflow in progress", root, task_status("t2", "IN_PROGRESS"))
    mid = s.child(root, "t2")
    s.check("mid running", mid, tasks_n(1))
    s.complete("integration_task_1", {"op": "task1.done"}, label="mid t1")
    s.check("mid: sub-workflow in progress", mid, task_status("t2", "IN_PROGRESS"))
    leaf = s.child(mid, "t2")
    s.check("leaf running", leaf, tasks_n(1))
    s.complete("integration_task_1", {"op": "task1.done"}, label="leaf t1")
    s.fail("integration_task_2", "failed", label="leaf t2")
    s.check("leaf failed", leaf, ended)
    s.check("mid failed", mid, ended, decide=True)
    s.check("root failed", root, ended, decide=True)
    return Levels(root, mid, leaf)


def _finish(s: Session, levels: Levels, polls: list[str]) -> None:
    """Work the tasks the operation scheduled, then observe the three levels (the current
    sub-workflows of root and mid, which may be new ones)."""
    for i, task in enumerate(polls):
        s.complete(task, {"op": f"{task}.done"}, label=f"poll {i + 1}: {task}")
    mid = s.child(levels.root, "t2")
    leaf = s.child(mid, "t2")
    s.note("new mid, new leaf", {"mid": mid != levels.mid, "leaf": leaf != levels.leaf})
    s.check("leaf at the end", leaf, ended, task_fields=LINKS)
    s.check("mid at the end", mid, ended, task_fields=LINKS, decide=True)
    s.check("root at the end", levels.root, ended, task_fields=LINKS, decide=True)


Operation = Callable[[Session, Levels], object]


def _register(spec: str, name: str, feature: str, operate: Operation, polls: list[str]) -> None:
    def run(s: Session) -> None:
        levels = _failed_three_levels(s, name)
        operate(s, levels)
        _finish(s, levels, polls)

    run.__name__ = name
    case(spec, feature)(run)


def _retry(level: str, resume: bool) -> Operation:
    def operate(s: Session, levels: Levels) -> object:
        target = getattr(levels, level)
        return s.operate(f"retry the {level}", s.client.retry(target, resume))

    return operate


def _restart(level: str) -> Operation:
    def operate(s: Session, levels: Levels) -> object:
        return s.operate(f"restart the {level}", s.client.restart(getattr(levels, level)))

    return operate


def _rerun(level: str, from_first_task: bool) -> Operation:
    def operate(s: Session, levels: Levels) -> object:
        target = getattr(levels, level)
        request: dict[str, object] = {"reRunFromWorkflowId": target}
        if from_first_task:  # the specs rerun from tasks[0] of that level
            tasks = s.get(target).get("tasks") or []
            request["reRunFromTaskId"] = tasks[0]["taskId"] if tasks else "none"
        return s.operate(f"rerun the {level}", s.client.rerun(target, request))

    return operate


T1, T2 = "integration_task_1", "integration_task_2"
RETRY = "SubWorkflowRetrySpec"
_register(
    RETRY,
    "retry_root",
    "Test retry on the root in a 3-level subworkflow",
    _retry("root", False),
    [T1, T1, T2],
)
_register(
    RETRY,
    "retry_root_resume",
    "Test retry on the root with resume flag in a 3-level subworkflow",
    _retry("root", True),
    [T2],
)
_register(
    RETRY,
    "retry_mid",
    "Test retry on the mid-level in a 3-level subworkflow",
    _retry("mid", False),
    [T1, T2],
)
_register(
    RETRY,
    "retry_mid_resume",
    "Test retry on the mid-level with resume flag in a 3-level subworkflow",
    _retry("mid", True),
    [T2],
)
_register(
    RETRY,
    "retry_leaf",
    "Test retry on the leaf in a 3-level subworkflow",
    _retry("leaf", False),
    [T2],
)
_register(
    RETRY,
    "retry_leaf_resume",
    "Test retry on the leaf with resume flag in a 3-level subworkflow",
    _retry("leaf", True),
    [T2],
)

RESTART = "SubWorkflowRestartSpec"
_register(
    RESTART,
    "restart_root",
    "Test restart on the root in a 3-level subworkflow",
    _restart("root"),
    [T1, T1, T1, T2],
)
_register(
    RESTART,
    "restart_mid",
    "Test restart on the mid-level in a 3-level subworkflow",
    _restart("mid"),
    [T1, T1, T2],
)
_register(
    RESTART,
    "restart_leaf",
    "Test restart on the leaf in a 3-level subworkflow",
    _restart("leaf"),
    [T1, T2],
)

RERUN = "SubWorkflowRerunSpec"
_register(
    RERUN,
    "rerun_root",
    "Test rerun on the root-level in a 3-level subworkflow",
    _rerun("root", False),
    [T1, T1, T1, T2],
)
_register(
    RERUN,
    "rerun_root_from_task",
    "Test rerun on the root-level with taskId in a 3-level subworkflow",
    _rerun("root", True),
    [T1, T1, T1, T2],
)
_register(
    RERUN,
    "rerun_mid",
    "Test rerun on the mid-level in a 3-level subworkflow",
    _rerun("mid", False),
    [T1, T1, T2],
)
_register(
    RERUN,
    "rerun_mid_from_task",
    "Test rerun on the mid-level with taskId in a 3-level subworkflow",
    _rerun("mid", True),
    [T1, T1, T2],
)
_register(
    RERUN,
    "rerun_leaf",
    "Test rerun on the leaf-level in a 3-level subworkflow",
    _rerun("leaf", False),
    [T1, T2],
)
_register(
    RERUN,
    "rerun_leaf_from_task",
    "Test rerun on the leaf-level with taskId in a 3-level subworkflow",
    _rerun("leaf", True),
    [T1, T2],
)
