"""Task types and settings driven by durable timers, on the real stack: WAIT (duration), HUMAN
(completed by an UpdateTaskByRef command), startDelay, a task timeout with timeoutPolicy RETRY
and a workflow timeout (TIME_OUT_WF).

Timers live in the processor's state and fire from its per-partition timer loop; the WAIT test
prints how late they fired (completion time - due time).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator

import pytest

from orchestrator.codec import wire
from orchestrator.domain import events as ev
from orchestrator.domain.commands import UpdateTaskByRef
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from tests.e2e.e2e_defs import WORKERS_MODULE, simple, system, task_defs, workflow
from tests.e2e.e2e_support import (
    Stack,
    of_task,
    output_of,
    picked_up_at,
    read_topic,
    scheduled,
    stack_for_module,
    the,
)
from tests.runtime_support import now_ms

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(180)]

WAITS = 10
WAIT_MS = 2000

WAIT_FLOW = workflow(
    "e2e_wait",
    system("pause", "WAIT", inputParameters={"duration": "2 seconds"}),
    simple("after_wait"),
)
HUMAN_FLOW = workflow(
    "e2e_human",
    system("approve", "HUMAN"),
    simple("after_human", inputParameters={"by": "${approve.output.by}"}),
)
DELAYED_FLOW = workflow("e2e_start_delay", simple("late", startDelay=2))
TIMEOUT_FLOW = workflow(
    "e2e_task_timeout", simple("slow", "e2e_slow", inputParameters={"sleepSeconds": 5})
)
WORKFLOW_TIMEOUT_FLOW = workflow(
    "e2e_workflow_timeout",
    system("forever", "HUMAN"),
    timeoutSeconds=2,
    timeoutPolicy="TIME_OUT_WF",
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with stack_for_module(
        tmp_path_factory.mktemp("task-types-timers"),
        workers=[WORKERS_MODULE],
        definitions=task_defs(),
    ) as s:
        for i in range(WAITS):
            s.start(f"wait-{i}", WAIT_FLOW)
        s.start("human", HUMAN_FLOW)
        s.start("start_delay", DELAYED_FLOW)
        s.start("task_timeout", TIMEOUT_FLOW)
        s.start("workflow_timeout", WORKFLOW_TIMEOUT_FLOW)
        s.sender.flush()
        yield s


def test_wait_with_a_duration_completes_when_its_durable_timer_fires(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    names = [f"wait-{i}" for i in range(WAITS)]
    stack.wait_ended([stack.ids[n] for n in names], 60)
    appended = {  # when each TaskCompleted reached the log (the record's create time)
        (e.workflow_id, e.task_id): msg.timestamp()[1]
        for msg in read_topic(stack.rt.topics.events)
        if isinstance(e := wire.decode_event(msg.value()), ev.TaskCompleted)
    }
    fired, logged = [], []
    for name in names:
        h = stack.finished(name)
        wait = scheduled(h, "pause")[0]
        assert wait.status is TaskStatus.IN_PROGRESS and not wait.dispatched
        done = of_task(h, wait.task_id, ev.TaskCompleted)[0]
        assert done.actor == "timer"
        due = wait.at + WAIT_MS
        assert done.at >= due, f"{name}: completed {due - done.at} ms early"
        fired.append(done.at - due)
        logged.append(appended[(stack.ids[name], wait.task_id)] - due)
        assert output_of(h, "after_wait")["ref"] == "after_wait"
    with capsys.disabled():  # the figure is part of the result: show it in every run
        print(
            f"\nWAIT lateness over {WAITS} workflows (ms): timer fired "
            f"min {min(fired)} / median {statistics.median(fired)} / max {max(fired)}; "
            f"TaskCompleted in the log min {min(logged)} / median {statistics.median(logged)} / "
            f"max {max(logged)}"
        )
    assert max(fired) < 2000, "a WAIT timer fired more than 2 s late"


def test_human_task_is_completed_by_an_update_by_reference(stack: Stack) -> None:
    wid = stack.ids["human"]
    human = stack.wait_for(wid, lambda e: isinstance(e, ev.TaskScheduled) and e.ref == "approve")
    assert human.status is TaskStatus.IN_PROGRESS and not human.dispatched
    stack.sender.send(
        UpdateTaskByRef(
            workflow_id=wid,
            at=now_ms(),
            actor="api:e2e-approver",
            task_ref="approve",
            status=TaskStatus.COMPLETED,
            output={"by": "ana", "approved": True},
        )
    )
    stack.sender.flush()
    h = stack.finished("human")
    done = of_task(h, human.task_id, ev.TaskCompleted)[0]
    assert done.actor == "api:e2e-approver"
    assert output_of(h, "approve") == {"by": "ana", "approved": True}
    assert output_of(h, "after_human")["echo"] == {"by": "ana"}


def test_start_delay_holds_the_task_back(stack: Stack) -> None:
    h = stack.finished("start_delay")
    task = scheduled(h, "late")[0]
    assert task.start_delay_ms == 2000
    queued = of_task(h, task.task_id, ev.TaskQueued)[0]
    assert queued.at - task.at >= 2000 and picked_up_at(h, task.task_id) >= queued.at
    assert isinstance(h[-1], ev.WorkflowCompleted)


def test_task_timeout_with_retry_policy_times_out_and_retries(stack: Stack) -> None:
    h = stack.finished("task_timeout")
    first, second = scheduled(h, "slow")
    picked = picked_up_at(h, first.task_id)  # its first heartbeat carried it (ADR 0007)
    timed_out = of_task(h, first.task_id, ev.TaskFailed)[0]
    assert timed_out.status is TaskStatus.TIMED_OUT
    assert timed_out.reason.startswith("Task timed out after 2 seconds")
    assert "RETRY" in timed_out.reason
    assert timed_out.actor == "timer" and timed_out.at - picked >= 2000
    assert (second.retry_count, second.retried_task_id) == (1, first.task_id)
    assert output_of(h, "slow") == {"attempt": 1}
    assert isinstance(h[-1], ev.WorkflowCompleted)


def test_workflow_timeout_times_the_workflow_out(stack: Stack) -> None:
    h = stack.finished("workflow_timeout")
    started = the(h, ev.WorkflowStarted)
    end = the(h, ev.WorkflowFailed)
    assert end.status is WorkflowStatus.TIMED_OUT
    assert end.reason == (
        "Workflow timed out after 2 seconds. Timeout configured as 2 seconds. "
        "Timeout policy configured to TIME_OUT_WF"
    )
    assert end.at - started.at >= 2000
    canceled = the(h, ev.TaskCanceled)
    assert canceled.task_id == scheduled(h, "forever")[0].task_id
