"""A fork inside a loop inside a sub-workflow, run whole in the in-memory runtime (fake clock, fake
workers, real QuickJS for the loop condition), with a flaky branch retried; live state equals replay
for every workflow of the tree."""

from __future__ import annotations

from orchestrator.adapters.scripting import DefaultScriptEvaluator
from orchestrator.domain import commands as cmd
from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.definitions_json import parse_workflow_def
from orchestrator.domain.evolve import evolve
from orchestrator.domain.state import WorkflowState
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.testing import InMemoryRuntime, always, fail_times
from orchestrator.testing.context import dict_context

CHILD = parse_workflow_def(
    {
        "name": "looping_child",
        "version": 1,
        "tasks": [
            {
                "name": "loop",
                "taskReferenceName": "loop",
                "type": "DO_WHILE",
                "loopCondition": "$.loop['iteration'] < 3",
                "loopOver": [
                    {
                        "name": "fork",
                        "taskReferenceName": "fork",
                        "type": "FORK_JOIN",
                        "forkTasks": [
                            [{"name": "left", "taskReferenceName": "left"}],
                            [{"name": "right", "taskReferenceName": "right"}],
                        ],
                    },
                    {
                        "name": "join",
                        "taskReferenceName": "join",
                        "type": "JOIN",
                        "joinOn": ["left", "right"],
                    },
                ],
            }
        ],
    }
)
PARENT = parse_workflow_def(
    {
        "name": "nesting_parent",
        "version": 1,
        "tasks": [
            {
                "name": "child",
                "taskReferenceName": "child",
                "type": "SUB_WORKFLOW",
                "subWorkflowParam": {"name": "looping_child", "version": 1},
            },
            {
                "name": "after",
                "taskReferenceName": "after",
                "inputParameters": {"loops": "${child.output.loop}"},
            },
        ],
    }
)
TASK_DEFS = [
    TaskDef(name="left"),
    TaskDef(name="right", retry_count=1, retry_delay_seconds=2),
    TaskDef(name="after"),
]


def fold(events: list) -> WorkflowState | None:
    state = None
    for event in events:
        state = evolve(state, event)
    return state


def test_fork_inside_a_loop_inside_a_sub_workflow_runs_to_completion() -> None:
    rt = InMemoryRuntime(
        dict_context([PARENT, CHILD], TASK_DEFS, DefaultScriptEvaluator()),
        workers={
            "left": always({"side": "L"}),
            "right": fail_times(1, {"side": "R"}),  # the first right branch fails once
            "after": always({"ok": True}),
        },
    )
    rt.submit(
        cmd.StartWorkflow(workflow_id="p", at=rt.clock.now, actor="api:test", name="nesting_parent")
    )
    rt.run_until_idle()

    parent = rt.state("p")
    assert parent.status is WorkflowStatus.COMPLETED
    child_id = parent.current("child").child_workflow_id
    child = rt.state(child_id)
    assert child.status is WorkflowStatus.COMPLETED
    loop = child.current("loop")
    assert loop.output["iteration"] == 3
    for n in (1, 2, 3):  # each iteration forked, joined by its own refs
        assert child.current(f"join__{n}").output == {
            f"left__{n}": {"side": "L"},
            f"right__{n}": {"side": "R"},
        }
    first_right = [t for t in child.tasks.values() if t.ref == "right__1"]
    assert sorted(t.status for t in first_right) == sorted(
        [TaskStatus.FAILED, TaskStatus.COMPLETED]
    )
    assert parent.current("after").status is TaskStatus.COMPLETED
    for wid in ("p", child_id):  # live == replay, for each workflow of the tree
        assert fold(rt.events[wid]) == rt.state(wid)
