"""Domain events for the read-model tests (projector, handlers): small, readable histories."""

from __future__ import annotations

from orchestrator.domain import events as ev
from orchestrator.domain.definitions import TaskDef, WorkflowDef, WorkflowTask
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus

T0 = 1_700_000_000_000

DEFINITION = WorkflowDef(
    name="order_flow",
    version=2,
    tasks=(
        WorkflowTask(name="reserve", task_reference_name="reserve_ref"),
        WorkflowTask(name="charge", task_reference_name="charge_ref"),
    ),
    variables={"region": "eu"},
)


def head(workflow_id: str, seq: int, actor: str = "engine") -> dict:
    return {
        "workflow_id": workflow_id,
        "root_workflow_id": workflow_id,
        "seq": seq,
        "at": T0 + seq * 1000,
        "actor": actor,
    }


def started(workflow_id: str, seq: int = 1, **extra) -> ev.WorkflowStarted:
    return ev.WorkflowStarted(
        **head(workflow_id, seq, "api:alice"),
        definition=DEFINITION,
        input={"order": workflow_id, "note": "blue widgets"},
        correlation_id="corr-" + workflow_id,
        priority=3,
        **extra,
    )


def scheduled(
    workflow_id: str, seq: int, task_id: str, ref: str, retry_of: str | None = None
) -> ev.TaskScheduled:
    name = ref.removesuffix("_ref")
    return ev.TaskScheduled(
        **head(workflow_id, seq),
        task_id=task_id,
        ref=ref,
        definition_ref=ref,
        name=name,
        task_type=name,
        kind="SIMPLE",
        input={"step": ref},
        task_def=TaskDef(name=name, retry_count=1),
        retry_count=1 if retry_of else 0,
        retried_task_id=retry_of,
    )


def happy_history(workflow_id: str) -> list[ev.Event]:
    """Start, two tasks (the second fails once and is retried), completion: seq 1..10."""
    t1, t2, t3 = f"{workflow_id}-t1", f"{workflow_id}-t2", f"{workflow_id}-t3"
    return [
        started(workflow_id),
        scheduled(workflow_id, 2, t1, "reserve_ref"),
        ev.TaskPickedUp(**head(workflow_id, 3, "worker:w1"), task_id=t1, worker_id="w1"),
        ev.TaskCompleted(
            **head(workflow_id, 4, "worker:w1"),
            task_id=t1,
            output={"reserved": True},
            logs=("got it",),
            worker_id="w1",
        ),
        scheduled(workflow_id, 5, t2, "charge_ref"),
        ev.TaskFailed(
            **head(workflow_id, 6, "worker:w2"),
            task_id=t2,
            status=TaskStatus.FAILED,
            reason="card declined",
            worker_id="w2",
        ),
        scheduled(workflow_id, 7, t3, "charge_ref", retry_of=t2),
        ev.VariablesUpdated(**head(workflow_id, 8), variables={"charged": 1}),
        ev.TaskCompleted(**head(workflow_id, 9, "worker:w2"), task_id=t3, output={"paid": 10}),
        ev.WorkflowCompleted(**head(workflow_id, 10), output={"paid": 10, "word": "shipped"}),
    ]


def failed(workflow_id: str, seq: int, failed_task_id: str) -> ev.WorkflowFailed:
    return ev.WorkflowFailed(
        **head(workflow_id, seq),
        status=WorkflowStatus.FAILED,
        reason="task charge_ref failed",
        failed_task_id=failed_task_id,
    )
