"""WAIT and HUMAN through the in-memory runtime: the fake clock fires WAIT's timer; the task
update API completes the others."""

from __future__ import annotations

from orchestrator.domain import commands as cmd
from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.testing import InMemoryRuntime, always
from orchestrator.testing.builders import T0, task, workflow
from orchestrator.testing.context import dict_context

DAY = 24 * 3_600_000


def _run(*tasks: object) -> InMemoryRuntime:
    rt = InMemoryRuntime(
        ctx=dict_context([workflow("w", *tasks)], [TaskDef(name="after")]),  # type: ignore[arg-type]
        workers={"after": always({"done": True})},
    )
    rt.submit(cmd.StartWorkflow(workflow_id="w-1", at=T0, actor="api:test", name="w"))
    return rt


def test_wait_with_a_duration_completes_when_the_fake_clock_reaches_it() -> None:
    rt = _run(task("pause", "WAIT", input_parameters={"duration": "2 days 3 hours"}), task("after"))
    rt.advance(2 * DAY)
    assert rt.state("w-1").current("pause").status is TaskStatus.IN_PROGRESS  # type: ignore[union-attr]
    rt.advance(3 * 3_600_000)
    state = rt.state("w-1")
    assert state.current("pause").ended_at == T0 + 2 * DAY + 3 * 3_600_000  # type: ignore[union-attr]
    assert state.status is WorkflowStatus.COMPLETED
    assert not rt.rejections


def test_wait_without_duration_is_completed_by_update_by_ref() -> None:
    rt = _run(task("pause", "WAIT"), task("after"))
    rt.run_until_idle()
    assert rt.state("w-1").status is WorkflowStatus.RUNNING
    rt.submit(
        cmd.UpdateTaskByRef(
            workflow_id="w-1",
            at=T0 + 5,
            actor="api:ops",
            task_ref="pause",
            status=TaskStatus.COMPLETED,
            output={"by": "ops"},
        )
    )
    assert rt.state("w-1").current("pause").output == {"by": "ops"}  # type: ignore[union-attr]
    assert rt.state("w-1").status is WorkflowStatus.COMPLETED


def test_human_task_is_completed_by_update_by_ref() -> None:
    rt = _run(
        task("approve", "HUMAN"), task("after", input_parameters={"ok": "${approve.output.ok}"})
    )
    rt.run_until_idle()
    assert rt.state("w-1").current("approve").status is TaskStatus.IN_PROGRESS  # type: ignore[union-attr]
    rt.submit(
        cmd.UpdateTaskByRef(
            workflow_id="w-1",
            at=T0 + 5,
            actor="api:ann",
            task_ref="approve",
            status=TaskStatus.COMPLETED,
            output={"ok": True},
        )
    )
    state = rt.state("w-1")
    assert state.status is WorkflowStatus.COMPLETED
    assert state.current("after").input == {"ok": True}  # type: ignore[union-attr]


def test_a_wait_timer_survives_a_runtime_restart() -> None:
    rt = _run(task("pause", "WAIT", input_parameters={"duration": "10m"}), task("after"))
    rt.restart()  # timers dropped and rebuilt from the state
    rt.advance(10 * 60_000)
    assert rt.state("w-1").status is WorkflowStatus.COMPLETED
