"""FORK_JOIN_DYNAMIC end to end on the in-memory runtime: classic, simplified, 1,000 wide."""

from __future__ import annotations

from typing import Any

from orchestrator.domain import commands as cmd
from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.definitions_json import parse_workflow_def
from orchestrator.domain.effects import DispatchTask
from orchestrator.domain.evolve import evolve
from orchestrator.domain.state import WorkflowState
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.testing import InMemoryRuntime, always, fail_times
from orchestrator.testing.context import dict_context

JOIN = {"name": "join", "taskReferenceName": "join", "type": "JOIN"}


def run(
    definition: dict[str, Any],
    workers: dict[str, Any],
    input: Any = None,
    task_defs: list[TaskDef] | None = None,
) -> tuple[InMemoryRuntime, WorkflowState]:
    wf = parse_workflow_def(definition)
    rt = InMemoryRuntime(dict_context([wf], task_defs or []), workers=workers)
    rt.submit(
        cmd.StartWorkflow(
            workflow_id="wf", at=rt.clock.now, actor="api:test", name=wf.name, input=input or {}
        )
    )
    rt.run_until_idle()
    state = rt.state("wf")
    replayed: WorkflowState | None = None
    for event in rt.events["wf"]:
        replayed = evolve(replayed, event)
    assert replayed == state  # live == replay, with no definition lookup for branches
    return rt, state


def echo(task: DispatchTask) -> dict[str, Any]:
    return {"ref": task.reference_task_name, "in": task.input_data}


def test_classic_dynamic_fork_of_five_tasks_built_by_a_previous_task() -> None:
    plan = {
        "tasks": [{"name": "resize", "taskReferenceName": f"img{i}"} for i in range(5)],
        "inputs": {f"img{i}": {"size": i * 100} for i in range(5)},
    }
    wf = {
        "name": "images",
        "tasks": [
            {"name": "plan", "taskReferenceName": "plan"},
            {
                "name": "fork",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN_DYNAMIC",
                "inputParameters": {"t": "${plan.output.tasks}", "i": "${plan.output.inputs}"},
                "dynamicForkTasksParam": "t",
                "dynamicForkTasksInputParamName": "i",
            },
            JOIN,
            {
                "name": "report",
                "taskReferenceName": "report",
                "inputParameters": {"all": "${join.output}"},
            },
        ],
    }
    rt, state = run(wf, {"plan": always(plan), "resize": always(echo), "report": always()})
    assert state.status is WorkflowStatus.COMPLETED
    joined = state.current("join").output  # type: ignore[union-attr]
    assert joined == {f"img{i}": {"ref": f"img{i}", "in": {"size": i * 100}} for i in range(5)}
    assert state.current("report").input == {"all": joined}  # type: ignore[union-attr]
    assert sorted(d.reference_task_name for d in rt.dispatched if d.task_type == "resize") == [
        f"img{i}" for i in range(5)
    ]


def test_simplified_dynamic_fork_over_a_list_with_a_flaky_branch() -> None:
    wf = {
        "name": "notify",
        "tasks": [
            {
                "name": "fork",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN_DYNAMIC",
                "inputParameters": {
                    "forkTaskName": "send",
                    "forkTaskInputs": "${workflow.input.to}",
                },
            },
            JOIN,
        ],
    }
    defs = [TaskDef(name="send", retry_count=1, retry_delay_seconds=1)]
    _, state = run(wf, {"send": fail_times(1, {"sent": True})}, {"to": ["a@x", "b@x"]}, defs)
    assert state.status is WorkflowStatus.COMPLETED
    assert state.current("join").output == {  # type: ignore[union-attr]
        "_send_0": {"sent": True},
        "_send_1": {"sent": True},
    }
    assert state.current("_send_0").retry_count == 1  # type: ignore[union-attr]
    assert state.current("_send_0").input == {"input": "a@x", "__index": 0}  # type: ignore[union-attr]


def test_a_thousand_wide_dynamic_fork_completes_with_every_branch_joined() -> None:
    wf = {
        "name": "wide",
        "tasks": [
            {
                "name": "fork",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN_DYNAMIC",
                "inputParameters": {"forkTaskName": "w", "forkTaskInputs": "${workflow.input.n}"},
            },
            JOIN,
        ],
    }
    _, state = run(
        wf, {"w": always(lambda t: {"i": t.input_data["input"]})}, {"n": list(range(1000))}
    )
    assert state.status is WorkflowStatus.COMPLETED
    joined = state.current("join").output  # type: ignore[union-attr]
    assert len(joined) == 1000 and joined["_w_999"] == {"i": 999}
    assert state.open_count == 0
    assert all(t.status is TaskStatus.COMPLETED for t in state.tasks.values())


def test_an_invalid_dynamic_task_list_fails_the_workflow_with_the_reason() -> None:
    wf = {
        "name": "broken",
        "tasks": [
            {
                "name": "fork",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN_DYNAMIC",
                "inputParameters": {"t": {"not": "a list"}, "i": {}},
                "dynamicForkTasksParam": "t",
                "dynamicForkTasksInputParamName": "i",
            },
            JOIN,
        ],
    }
    _, state = run(wf, {})
    assert state.status is WorkflowStatus.FAILED
    assert "Input 't' is invalid. Cannot deserialize a list of Workflow Tasks" in str(state.reason)


def test_fork_task_workflow_runs_one_sub_workflow_per_input() -> None:
    child = parse_workflow_def(
        {
            "name": "child",
            "tasks": [
                {
                    "name": "c",
                    "taskReferenceName": "c",
                    "inputParameters": {"v": "${workflow.input.v}"},
                }
            ],
        }
    )
    parent = parse_workflow_def(
        {
            "name": "parent",
            "tasks": [
                {
                    "name": "fork",
                    "taskReferenceName": "fork",
                    "type": "FORK_JOIN_DYNAMIC",
                    "inputParameters": {
                        "forkTaskWorkflow": "child",
                        "forkTaskInputs": [{"v": 1}, {"v": 2}],
                    },
                },
                JOIN,
            ],
        }
    )
    rt = InMemoryRuntime(
        dict_context([parent, child]),
        workers={"c": always(lambda t: {"double": t.input_data["v"] * 2})},
    )
    rt.submit(cmd.StartWorkflow(workflow_id="wf", at=rt.clock.now, actor="api:test", name="parent"))
    rt.run_until_idle()
    state = rt.state("wf")
    assert state.status is WorkflowStatus.COMPLETED, state.reason
    joined = state.current("join").output  # type: ignore[union-attr]
    assert sorted(joined) == ["_fork_0", "_fork_1"]
    assert joined["_fork_1"]["double"] == 4
    assert joined["_fork_1"]["subWorkflowId"] == state.current("_fork_1").child_workflow_id  # type: ignore[union-attr]
