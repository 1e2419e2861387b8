"""FORK_JOIN_DYNAMIC: N tasks forked from data, joined by the JOIN that follows (given/when/then)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from orchestrator.domain import events as ev
from orchestrator.domain.definitions import TaskDef, TaskType, WorkflowDef
from orchestrator.domain.effects import DispatchTask
from orchestrator.domain.evolve import evolve
from orchestrator.domain.state import WorkflowState
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from tests.unit.handler_kit import Flow, flow, task, workflow

WORK = TaskDef(name="work", retry_count=0)


def classic(**fork_kw: Any) -> WorkflowDef:
    fork = task(
        "fork",
        "FORK_JOIN_DYNAMIC",
        input_parameters={"tasks": "${workflow.input.tasks}", "inputs": "${workflow.input.in}"},
        dynamic_fork_tasks_param="tasks",
        dynamic_fork_tasks_input_param_name="inputs",
        **fork_kw,
    )
    return workflow("classic", fork, task("join", "JOIN"), task("after"))


def simple(params: dict[str, Any], optional: bool = False) -> WorkflowDef:
    fork = task("fork", "FORK_JOIN_DYNAMIC", input_parameters=params, optional=optional)
    return workflow("simple", fork, task("join", "JOIN"), task("after"))


def run(definition: WorkflowDef, input: Any = None, task_defs: list[TaskDef] | None = None) -> Flow:
    f = flow([definition], task_defs or [WORK, TaskDef(name="after")])
    f.start(definition.name, input or {})
    return f


def work_list(n: int) -> list[dict[str, Any]]:
    return [{"name": "work", "taskReferenceName": f"w{i}"} for i in range(n)]


def dispatched(f: Flow) -> list[str]:
    return [e.reference_task_name for e in f.effects if isinstance(e, DispatchTask)]


def test_classic_fork_of_five_schedules_every_branch_then_the_join_as_conductor():
    f = run(classic(), {"tasks": work_list(5), "in": {"w1": {"x": 1}}})
    fork, join = f.task("fork"), f.task("join")
    assert (fork.status, fork.task_type, fork.output) == (TaskStatus.COMPLETED, "FORK", {})
    assert fork.input["forkedTasks"] == ["w0", "w1", "w2", "w3", "w4"]
    assert join.status is TaskStatus.IN_PROGRESS
    assert join.input["joinOn"] == ["w0", "w1", "w2", "w3", "w4"]
    assert f.st.join_waiting[join.task_id] == 5
    assert [e.ref for e in f.of(ev.TaskScheduled)][-6:] == ["w0", "w1", "w2", "w3", "w4", "join"]
    assert dispatched(f) == ["w0", "w1", "w2", "w3", "w4"]
    assert f.task("w1").input == {"x": 1}


def test_join_output_maps_every_branch_ref_to_its_output_and_the_workflow_goes_on():
    f = run(classic(), {"tasks": work_list(5), "in": {}})
    for i in range(5):
        f.report(f"w{i}", TaskStatus.COMPLETED, {"n": i})
    assert f.task("join").status is TaskStatus.COMPLETED
    assert f.task("join").output == {f"w{i}": {"n": i} for i in range(5)}
    assert f.task("after").status is TaskStatus.SCHEDULED


def test_one_branch_completion_is_one_event_and_one_counter_step():
    f = run(classic(), {"tasks": work_list(5), "in": {}})
    join_id = f.task("join").task_id
    f.report("w3", TaskStatus.COMPLETED, {"n": 3})
    assert [type(e).__name__ for e in f.events] == ["TaskCompleted"]
    assert f.st.join_waiting[join_id] == 4


def test_branch_inputs_merge_the_input_map_and_resolve_expressions():
    tasks = [{"name": "work", "taskReferenceName": "w0", "inputParameters": {"a": 1, "b": 2}}]
    f = run(classic(), {"tasks": tasks, "in": {"w0": {"b": "${workflow.input.v}"}}, "v": 9})
    assert f.task("w0").input == {"a": 1, "b": 9}


def test_the_branch_task_travels_in_its_scheduled_event():
    f = run(classic(), {"tasks": work_list(2), "in": {"w0": {"x": 1}}})
    w0 = next(e for e in f.history if isinstance(e, ev.TaskScheduled) and e.ref == "w0")
    assert w0.dynamic_task is not None and w0.dynamic_task.input_parameters == {"x": 1}
    assert w0.container_ref == "fork"


def test_simplified_form_makes_one_branch_per_input_with_conductors_refs():
    f = run(simple({"forkTaskName": "work", "forkTaskInputs": [{"a": 1}, 7]}))
    assert f.task("fork").input["forkedTasks"] == ["_work_0", "_work_1"]
    assert f.task("_work_0").input == {"a": 1, "__index": 0}
    assert f.task("_work_1").input == {"input": 7, "__index": 1}
    assert f.task("_work_0").task_type == "work"
    f.report("_work_0", TaskStatus.COMPLETED, {"r": 0})
    f.report("_work_1", TaskStatus.COMPLETED, {"r": 1})
    assert f.task("join").output == {"_work_0": {"r": 0}, "_work_1": {"r": 1}}


def test_simplified_form_with_fork_task_workflow_forks_sub_workflows():
    params = {"forkTaskWorkflow": "child", "forkTaskWorkflowVersion": "2", "forkTaskInputs": [{}]}
    child = workflow("child", task("c"), version=2)
    f = flow([simple(params), child], [WORK, TaskDef(name="after"), TaskDef(name="c")])
    f.start("simple")
    [branch] = [e for e in f.history if isinstance(e, ev.TaskScheduled) and e.ref == "_fork_0"]
    spec = branch.dynamic_task
    assert spec is not None and spec.type == TaskType.SUB_WORKFLOW and spec.name == "child"
    assert spec.sub_workflow_param is not None
    assert (spec.sub_workflow_param.name, spec.sub_workflow_param.version) == ("child", 2)


def test_a_second_dynamic_fork_prefixes_its_refs_with_its_own_ref_as_conductor_does():
    first = task(
        "f1", "FORK_JOIN_DYNAMIC", input_parameters={"forkTaskName": "work", "forkTaskInputs": [1]}
    )
    second = task(
        "f2", "FORK_JOIN_DYNAMIC", input_parameters={"forkTaskName": "work", "forkTaskInputs": [1]}
    )
    wf = workflow("two", first, task("j1", "JOIN"), second, task("j2", "JOIN"))
    f = run(wf)
    f.report("_work_0", TaskStatus.COMPLETED)
    assert f.task("f2").input["forkedTasks"] == ["_f2_work_0"]


def test_an_optional_simplified_fork_makes_optional_branches():
    f = run(simple({"forkTaskName": "work", "forkTaskInputs": [1, 2]}, optional=True))
    f.report("_work_0", TaskStatus.FAILED)
    f.report("_work_1", TaskStatus.COMPLETED, {"ok": True})
    assert f.task("_work_0").status is TaskStatus.COMPLETED_WITH_ERRORS
    join = f.task("join")  # Conductor's Join over an optional task that failed
    assert join.status is TaskStatus.COMPLETED_WITH_ERRORS
    assert join.reason == f"work/{f.task('_work_0').task_id} completed with errors"
    assert join.output == {"_work_1": {"ok": True}}  # the empty output is left out
    assert f.st.status is WorkflowStatus.RUNNING


def test_a_failed_branch_is_retried_from_the_embedded_task():
    f = run(
        classic(),
        {"tasks": work_list(2), "in": {"w0": {"x": 1}}},
        [TaskDef(name="work", retry_count=1, retry_delay_seconds=0), TaskDef(name="after")],
    )
    first = f.task("w0").task_id
    f.report("w0", TaskStatus.FAILED)
    retry = f.task("w0")
    assert retry.task_id != first and retry.retry_count == 1 and retry.input == {"x": 1}
    f.report("w0", TaskStatus.COMPLETED, {"a": 1})
    f.report("w1", TaskStatus.COMPLETED, {"b": 2})
    assert f.task("join").output == {"w0": {"a": 1}, "w1": {"b": 2}}


def test_an_empty_list_completes_the_join_at_once():
    f = run(classic(), {"tasks": [], "in": {}})
    assert f.task("join").status is TaskStatus.COMPLETED
    assert f.task("join").output == {}
    assert f.task("after").status is TaskStatus.SCHEDULED


def _failed_with(f: Flow, text: str) -> None:
    """Conductor's ForkJoinDynamicTaskMapper: the workflow fails with the reason itself and no
    fork task is recorded (DynamicForkJoinSpec "fail when task input is invalid")."""
    assert f.st.status is WorkflowStatus.FAILED
    assert f.st.reason is not None and text in f.st.reason, f.st.reason
    assert not f.st.tasks, list(f.st.tasks.values())
    assert f.st.failed_task_id is None


def test_a_task_list_that_is_not_a_list_fails_the_workflow_with_the_reason():
    f = run(classic(), {"tasks": "nope", "in": {}})
    _failed_with(f, "Input 'tasks' is invalid. Cannot deserialize a list of Workflow Tasks")


def test_a_task_without_reference_name_fails_the_workflow_with_its_path():
    f = run(classic(), {"tasks": [{"name": "work"}], "in": {}})
    _failed_with(f, "tasks[0].taskReferenceName: taskReferenceName is required")


def test_an_input_map_that_is_not_a_map_fails_the_workflow():
    f = run(classic(), {"tasks": work_list(1), "in": [1]})
    _failed_with(f, "Input to the dynamically forked tasks is not a map")


def test_a_branch_input_that_is_not_a_map_fails_the_workflow():
    f = run(classic(), {"tasks": work_list(2), "in": {"w0": "v1", "w1": "v2"}})
    _failed_with(f, "Tasks could not be dynamically forked due to invalid input")


def test_duplicate_refs_fail_the_workflow():
    tasks = work_list(1) * 2
    _failed_with(run(classic(), {"tasks": tasks, "in": {}}), "duplicate task reference name")


def test_a_ref_of_the_definition_fails_the_workflow():
    tasks = [{"name": "work", "taskReferenceName": "after"}]
    _failed_with(run(classic(), {"tasks": tasks, "in": {}}), "duplicate task reference name")


def test_a_branch_with_nested_tasks_is_refused():
    tasks = [{"name": "s", "taskReferenceName": "s", "type": "SWITCH"}]
    _failed_with(run(classic(), {"tasks": tasks, "in": {}}), "must be a single task")


def test_an_invalid_fork_after_other_tasks_keeps_them_and_their_output():
    fork = task(
        "fork",
        "FORK_JOIN_DYNAMIC",
        input_parameters={"tasks": "${first.output.tasks}", "inputs": "${first.output.in}"},
        dynamic_fork_tasks_param="tasks",
        dynamic_fork_tasks_input_param_name="inputs",
    )
    definition = workflow("later", task("first", name="work"), fork, task("join", "JOIN"))
    f = run(definition)
    out = {"tasks": work_list(1), "in": {"w0": "v1"}}
    f.report("first", TaskStatus.COMPLETED, out)
    assert f.st.status is WorkflowStatus.FAILED
    assert [t.ref for t in f.st.tasks.values()] == ["first"]
    assert f.st.output == out


def test_a_fork_not_followed_by_a_join_fails():
    fork = task(
        "fork",
        "FORK_JOIN_DYNAMIC",
        input_parameters={"forkTaskName": "work", "forkTaskInputs": [1]},
    )
    f = run(workflow("nojoin", fork, task("after")))
    _failed_with(f, "Dynamic join definition is not followed by a join task")


def test_replaying_the_history_gives_the_same_state():
    f = run(classic(), {"tasks": work_list(3), "in": {}})
    f.report("w0", TaskStatus.FAILED)
    f.report("w1", TaskStatus.COMPLETED)
    replayed: WorkflowState | None = None
    for event in f.history:
        replayed = evolve(replayed, event)
    assert replayed == f.state


def _calls(fn: Callable[[], object]) -> int:
    """Python-level function calls made by fn: a deterministic measure of work done."""
    count = 0

    def profile(frame: object, event: str, arg: object) -> None:
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return count


def _completion_calls(width: int) -> int:
    f = run(simple({"forkTaskName": "work", "forkTaskInputs": list(range(width))}))
    f.report("_work_0", TaskStatus.COMPLETED)  # warm caches
    return _calls(lambda: f.report(f"_work_{width // 2}", TaskStatus.COMPLETED, {"r": 1}))


def test_completing_a_branch_costs_the_same_at_width_10_and_1000():
    narrow, wide = _completion_calls(10), _completion_calls(1000)
    # Persistent maps are one level deeper at 1,000 entries: a few calls, never ~1,000.
    assert wide <= narrow * 1.2, (narrow, wide)
