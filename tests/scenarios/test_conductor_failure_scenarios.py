"""Conductor's failure semantics and its LAMBDA task, whole workflows in the in-memory runtime.

Each test follows a Conductor test-harness spec (named in its docstring) as Conductor OSS 3.32.3
answered when the same definition ran there with HTTP polling workers. JavaScript runs on the
real evaluator (QuickJS), so LAMBDA scripts are what Conductor users write.
"""

from __future__ import annotations

from functools import reduce
from typing import Any

import pytest

from orchestrator.adapters.scripting import DefaultScriptEvaluator
from orchestrator.domain import commands as cmd
from orchestrator.domain.definitions import TaskDef, WorkflowDef
from orchestrator.domain.definitions_json import parse_workflow_def
from orchestrator.domain.evolve import evolve
from orchestrator.domain.outcome import RejectionCode
from orchestrator.domain.state import TaskState, WorkflowState
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.testing import InMemoryRuntime, always, never
from orchestrator.testing.builders import T0
from orchestrator.testing.context import dict_context
from orchestrator.testing.workers import Reply, Worker

SCRIPT = "if ($.input.a==1){return {testvalue: true}} else{return {testvalue: false}}"


@pytest.fixture(scope="module")
def js() -> DefaultScriptEvaluator:
    return DefaultScriptEvaluator()


def wf(name: str, tasks: list[dict[str, Any]], **fields: Any) -> WorkflowDef:
    return parse_workflow_def({"name": name, "version": 1, "tasks": tasks, **fields})


def lam(ref: str, script: str = SCRIPT, **params: Any) -> dict[str, Any]:
    inputs = {"input": "${workflow.input}", "scriptExpression": script, **params}
    return {"name": "lambda", "taskReferenceName": ref, "type": "LAMBDA", "inputParameters": inputs}


def simple(ref: str, name: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"name": name or ref, "taskReferenceName": ref, "type": "SIMPLE", **fields}


def runtime(
    js: DefaultScriptEvaluator,
    defs: list[WorkflowDef],
    task_defs: list[TaskDef] = (),  # type: ignore[assignment]
    **workers: Worker,
) -> InMemoryRuntime:
    return InMemoryRuntime(ctx=dict_context(defs, task_defs, js), workers=workers)


def start(
    rt: InMemoryRuntime,
    name: str,
    wf_input: Any = None,
    wid: str = "wf",
    idle: bool = True,
    **kw: Any,
) -> None:
    """Start `name`; `idle`: then let the fake clock run until nothing is due (no `idle` with
    workers that never answer: their response time-outs would fire)."""
    rt.submit(
        cmd.StartWorkflow(
            workflow_id=wid, at=T0, actor="api:test", name=name, input=wf_input or {}, **kw
        )
    )
    if idle:
        rt.run_until_idle()


def tasks(state: WorkflowState) -> list[TaskState]:
    """The task list as Conductor shows it: every attempt, in scheduling order."""
    return sorted(state.tasks.values(), key=lambda t: t.seq)


def fails(reason: str, output: Any = None, status: TaskStatus = TaskStatus.FAILED) -> Worker:
    """A worker that always reports `status` with `reason` (and `output`)."""
    return lambda task: Reply(status=status, output=output or {}, reason=reason)


def live_equals_replay(rt: InMemoryRuntime) -> None:
    for wid, events in rt.events.items():
        assert reduce(evolve, events, None) == rt.state(wid), wid


# --- LAMBDA (LambdaAndTerminateTaskSpec, FailureWorkflowSpec) --------------------------------


def test_lambda_runs_its_script_as_a_function_body_over_the_task_input(
    js: DefaultScriptEvaluator,
) -> None:
    """LambdaAndTerminateTaskSpec: `$` is the task input, the result is the return value."""
    defn = wf(
        "lambdas",
        [
            lam("l1"),
            lam("l2", "return $.x + 1;", x=1),
            lam("l3", "var r = []; for (var k in $) r.push(k); return r.sort();"),
            lam("l4", "$.x * 2", x=3),  # a function body without `return`: undefined
        ],
    )
    rt = runtime(js, [defn])
    start(rt, "lambdas", {"a": 1})
    state = rt.state("wf")
    assert state.status is WorkflowStatus.COMPLETED
    outputs = [(t.task_type, t.status, t.output) for t in tasks(state)]
    assert outputs == [
        ("LAMBDA", TaskStatus.COMPLETED, {"result": {"testvalue": True}}),
        ("LAMBDA", TaskStatus.COMPLETED, {"result": 2}),
        ("LAMBDA", TaskStatus.COMPLETED, {"result": ["input", "scriptExpression"]}),
        ("LAMBDA", TaskStatus.COMPLETED, {"result": None}),
    ]
    live_equals_replay(rt)


def test_a_lambda_script_error_fails_the_task_with_the_error_in_its_output(
    js: DefaultScriptEvaluator,
) -> None:
    rt = runtime(js, [wf("bad", [lam("l", "throw new Error('bad thing');")])])
    start(rt, "bad")
    state = rt.state("wf")
    (task,) = tasks(state)
    assert (task.status, state.status) == (TaskStatus.FAILED, WorkflowStatus.FAILED)
    assert "bad thing" in str(task.reason)
    assert task.output == {"error": task.reason}


def test_a_lambda_whose_script_resolves_empty_fails_with_conductors_reason(
    js: DefaultScriptEvaluator,
) -> None:
    defn = wf("empty", [lam("l", "${workflow.input.script}")])
    rt = runtime(js, [defn])
    start(rt, "empty", {"script": ""})
    (task,) = tasks(rt.state("wf"))
    assert task.status is TaskStatus.FAILED
    assert task.reason == (
        "Empty 'scriptExpression' in Lambda task's input parameters. "
        "A non-empty String value must be provided."
    )


def test_a_lambda_with_retries_is_retried_like_any_failed_task(
    js: DefaultScriptEvaluator,
) -> None:
    defn = wf("retried", [lam("l", "return $.input.n.x;")])
    rt = runtime(js, [defn], [TaskDef(name="lambda", retry_count=1, retry_delay_seconds=0)])
    start(rt, "retried", {})
    attempts = [(t.retry_count, t.status) for t in tasks(rt.state("wf"))]
    assert attempts == [(0, TaskStatus.FAILED), (1, TaskStatus.FAILED)]


# --- ${CPEWF_TASK_ID} (SimpleWorkflowSpec "retry at workflow level", StartWorkflowSpec) -------


def test_cpewf_task_id_is_each_attempts_own_task_id(js: DefaultScriptEvaluator) -> None:
    """SimpleWorkflowSpec: `p3: ${CPEWF_TASK_ID}` equals the task id of every attempt, the
    engine's retries and a retry of the whole workflow alike; LAMBDA sees its own id too."""
    defn = wf(
        "cpewf",
        [
            simple(
                "t1",
                "integration_task_1",
                inputParameters={"p3": "${CPEWF_TASK_ID}", "text": "id=${CPEWF_TASK_ID}"},
            ),
            lam("l", "return $.me;", me="${CPEWF_TASK_ID}"),
        ],
    )
    task_def = TaskDef(name="integration_task_1", retry_count=1, retry_delay_seconds=0)
    failing = {"calls": 0}

    def worker(task: Any) -> Any:
        failing["calls"] += 1
        status = TaskStatus.FAILED if failing["calls"] <= 2 else TaskStatus.COMPLETED
        return always(status=status)(task)

    rt = runtime(js, [defn], [task_def], integration_task_1=worker)
    start(rt, "cpewf")
    assert rt.state("wf").status is WorkflowStatus.FAILED  # two attempts failed
    rt.submit(cmd.RetryWorkflow(workflow_id="wf", at=T0 + 10, actor="api:test"))
    rt.run_until_idle()
    state = rt.state("wf")
    assert state.status is WorkflowStatus.COMPLETED
    attempts = [t for t in tasks(state) if t.ref == "t1"]
    assert len(attempts) == 3
    for t in attempts:
        assert t.input == {"p3": t.task_id, "text": f"id={t.task_id}"}
    lambda_task = state.current("l")
    assert lambda_task is not None and lambda_task.output == {"result": lambda_task.task_id}
    live_equals_replay(rt)


# --- failure workflows (FailureWorkflowSpec, LambdaAndTerminateTaskSpec) ---------------------

FAILURE_WF = wf("failure_workflow", [lam("lambda0")])
TERMINATE_FAILED = wf(
    "test_terminate_task_failed_wf",
    [
        lam("lambda0"),
        {
            "name": "terminate",
            "taskReferenceName": "terminate0",
            "type": "TERMINATE",
            "inputParameters": {
                "terminationStatus": "FAILED",
                "terminationReason": "Early exit in terminate",
                "workflowOutput": "${lambda0.output}",
            },
        },
        simple("t2", "integration_task_2"),
    ],
    failureWorkflow="failure_workflow",
)


def test_failure_workflow_spec_failure_workflow_gets_failed_workflow(
    js: DefaultScriptEvaluator,
) -> None:
    """FailureWorkflowSpec "Test workflow with a task that failed": a TERMINATE(FAILED) ends the
    workflow with its reason; the failure workflow gets workflowId, failureTaskId (the
    TERMINATE task) and failedWorkflow; the failed workflow's output names the failure
    workflow (`conductor.failure_workflow`)."""
    rt = runtime(js, [TERMINATE_FAILED, FAILURE_WF])
    start(rt, "test_terminate_task_failed_wf", {"a": 1}, correlation_id="testId")
    state = rt.state("wf")
    assert state.status is WorkflowStatus.FAILED
    assert state.reason == "Early exit in terminate"
    listed = [(t.task_type, t.status, t.seq) for t in tasks(state)]
    assert listed == [("LAMBDA", TaskStatus.COMPLETED, 1), ("TERMINATE", TaskStatus.COMPLETED, 2)]
    failure_id = state.output["conductor.failure_workflow"]
    assert state.output == {"result": {"testvalue": True}, "conductor.failure_workflow": failure_id}
    assert (state.failed_ref_names, state.failed_task_names) == ((), ())
    failure = rt.state(failure_id)
    assert failure.status is WorkflowStatus.COMPLETED
    assert failure.correlation_id == "testId"
    assert failure.input["workflowId"] == "wf"
    assert failure.input["failureTaskId"] == tasks(state)[1].task_id
    assert failure.input["failureStatus"] == "FAILED"
    assert failure.input["reason"] == "Early exit in terminate"
    failed = failure.input["failedWorkflow"]
    assert (failed["workflowId"], failed["status"]) == ("wf", "FAILED")
    assert [t["taskType"] for t in failed["tasks"]] == ["LAMBDA", "TERMINATE"]
    assert "conductor.failure_workflow" not in failed["output"]  # not there yet when it started
    assert [(t.task_type, t.output) for t in tasks(failure)] == [
        ("LAMBDA", {"result": {"testvalue": True}})  # its input `a` is the failed one's
    ]
    live_equals_replay(rt)


def test_failure_workflow_spec_task_failed_in_sub_workflow(js: DefaultScriptEvaluator) -> None:
    """FailureWorkflowSpec "Test workflow with a task failed in subworkflow": the child fails by
    a TERMINATE without a reason (Conductor's wording); the parent's SUB_WORKFLOW task fails,
    the parent fails and its failure workflow gets the SUB_WORKFLOW task as failureTaskId."""
    child = wf(
        "test_task_failed_sub_wf",
        [
            lam("lambda0"),
            {
                "name": "terminate",
                "taskReferenceName": "terminate0",
                "type": "TERMINATE",
                "inputParameters": {
                    "terminationStatus": "FAILED",
                    "workflowOutput": "${lambda0.output}",
                },
            },
            simple("t2", "integration_task_2"),
        ],
    )
    parent = wf(
        "test_task_failed_parent_wf",
        [
            lam("lambdaTask1", "return {testvalue: $.lambdaValue == 1}", lambdaValue=1),
            {
                "name": "test_task_failed_sub_wf",
                "taskReferenceName": "test_task_failed_sub_wf",
                "type": "SUB_WORKFLOW",
                "subWorkflowParam": {"name": "test_task_failed_sub_wf"},
            },
            lam("lambdaTask2"),
        ],
        failureWorkflow="failure_workflow",
    )
    rt = runtime(js, [parent, child, FAILURE_WF])
    start(rt, "test_task_failed_parent_wf", {"a": 1})
    state = rt.state("wf")
    sub = state.current("test_task_failed_sub_wf")
    assert sub is not None and sub.child_workflow_id is not None
    child_state = rt.state(sub.child_workflow_id)
    assert child_state.status is WorkflowStatus.FAILED
    terminate = tasks(child_state)[1]
    assert child_state.reason == f"Workflow is FAILED by TERMINATE task: {terminate.task_id}"
    assert [(t.task_type, t.status) for t in tasks(state)] == [
        ("LAMBDA", TaskStatus.COMPLETED),
        ("SUB_WORKFLOW", TaskStatus.FAILED),
    ]
    assert state.status is WorkflowStatus.FAILED
    assert (state.failed_ref_names, state.failed_task_names) == (
        ("test_task_failed_sub_wf",),
        ("test_task_failed_sub_wf",),
    )
    failure = rt.state(state.output["conductor.failure_workflow"])
    assert failure.status is WorkflowStatus.COMPLETED
    assert failure.input["failureTaskId"] == sub.task_id
    assert failure.input["failedWorkflow"]["workflowId"] == "wf"
    live_equals_replay(rt)


@pytest.mark.parametrize("status", ["TERMINATED", "COMPLETED"])
def test_lambda_and_terminate_task_spec_terminate_reason_is_conductors(
    js: DefaultScriptEvaluator, status: str
) -> None:
    """A TERMINATE without terminationReason: "Workflow is <status> by TERMINATE task: <id>",
    on a COMPLETED workflow too; TERMINATED starts the failure workflow, COMPLETED does not."""
    terminate = {
        "name": "terminate",
        "taskReferenceName": "term",
        "type": "TERMINATE",
        "inputParameters": {"terminationStatus": status, "workflowOutput": {"k": 1}},
    }
    defn = wf("terminating", [terminate], failureWorkflow="failure_workflow")
    rt = runtime(js, [defn, FAILURE_WF])
    start(rt, "terminating", {"a": 2})
    state = rt.state("wf")
    (term,) = tasks(state)
    assert str(state.status) == status
    assert state.reason == f"Workflow is {status} by TERMINATE task: {term.task_id}"
    if status == "COMPLETED":
        assert state.output == {"k": 1} and state.failure_workflow_id is None
    else:
        failure_id = state.output["conductor.failure_workflow"]
        assert state.output == {"k": 1, "conductor.failure_workflow": failure_id}
        assert rt.state(failure_id).input["failureTaskId"] == term.task_id


# --- invalid dynamic forks (DynamicForkJoinSpec) ----------------------------------------------

DYNAMIC_FORK = {
    "name": "dynamicfanouttask",
    "taskReferenceName": "dynamicfanouttask",
    "type": "FORK_JOIN_DYNAMIC",
    "inputParameters": {
        "dynamicTasks": "${t1.output.dynamicTasks}",
        "dynamicTasksInput": "${t1.output.dynamicTasksInput}",
    },
    "dynamicForkTasksParam": "dynamicTasks",
    "dynamicForkTasksInputParamName": "dynamicTasksInput",
}
JOIN = {"name": "join", "taskReferenceName": "dynamicfanouttask_join", "type": "JOIN"}
XDT = [
    {"name": "integration_task_2", "taskReferenceName": "xdt1"},
    {"name": "integration_task_3", "taskReferenceName": "xdt2"},
]


def test_dynamic_fork_join_spec_fail_when_task_input_is_invalid(
    js: DefaultScriptEvaluator,
) -> None:
    """DynamicForkJoinSpec: branch inputs that are not maps fail the workflow; its task list
    is only the task before the fork, which COMPLETED."""
    defn = wf(
        "dynamic_fork_join_workflow",
        [simple("t1", "integration_task_1"), DYNAMIC_FORK, JOIN],
        failureWorkflow="failure_workflow",
    )
    out = {"dynamicTasks": XDT, "dynamicTasksInput": {"xdt1": "v1", "xdt2": "v2"}}
    rt = runtime(js, [defn, FAILURE_WF], integration_task_1=always(out))
    start(rt, "dynamic_fork_join_workflow", {"a": 1})
    state = rt.state("wf")
    assert state.status is WorkflowStatus.FAILED
    assert [(t.task_type, t.status) for t in tasks(state)] == [
        ("integration_task_1", TaskStatus.COMPLETED)
    ]
    assert str(state.reason).startswith(
        "Tasks could not be dynamically forked due to invalid input"
    )
    failure_id = state.output.pop("conductor.failure_workflow")
    assert state.output == out  # the last task's output
    failure = rt.state(failure_id)
    assert "failureTaskId" not in failure.input and failure.status is WorkflowStatus.COMPLETED
    live_equals_replay(rt)


def test_dynamic_fork_join_spec_return_failed_workflow_when_start_with_invalid_input(
    js: DefaultScriptEvaluator,
) -> None:
    fork = {
        **DYNAMIC_FORK,
        "inputParameters": {
            "dynamicTasks": "${workflow.input.dynamicTasks}",
            "dynamicTasksInput": "${workflow.input.dynamicTasksInput}",
        },
    }
    defn = wf("DynamicForkJoinStartTest", [fork, JOIN])
    rt = runtime(js, [defn])
    start(
        rt,
        "DynamicForkJoinStartTest",
        {"dynamicTasks": XDT, "dynamicTasksInput": {"xdt1": "v1", "xdt2": "v2"}},
    )
    state = rt.state("wf")
    assert state.status is WorkflowStatus.FAILED and not state.tasks


# --- JOIN over optional tasks that failed (ForkJoinSpec) --------------------------------------

SUB_WF = wf("sub_workflow", [simple("s", "simple_task_in_sub_wf")])


def sub(ref: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": ref,
        "taskReferenceName": ref,
        "type": "SUB_WORKFLOW",
        "subWorkflowParam": {"name": "sub_workflow"},
        **fields,
    }


def fork(branches: list[list[dict[str, Any]]], join_on: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "name": "fork",
            "taskReferenceName": "fanouttask",
            "type": "FORK_JOIN",
            "forkTasks": branches,
        },
        {"name": "join", "taskReferenceName": "fanouttask_join", "type": "JOIN", "joinOn": join_on},
    ]


def test_fork_join_spec_optional_sub_workflow_forks_end_the_join_completed_with_errors(
    js: DefaultScriptEvaluator,
) -> None:
    """ForkJoinSpec "fork join with optional sub workflow forks": both children fail, both
    SUB_WORKFLOW tasks and the JOIN end COMPLETED_WITH_ERRORS, the workflow COMPLETED."""
    defn = wf(
        "integration_test_fork_join_optional_sw",
        fork([[sub("st1", optional=True)], [sub("st2", optional=True)]], ["st1", "st2"]),
    )
    no_retry = TaskDef(name="simple_task_in_sub_wf", retry_count=0)
    rt = runtime(
        js,
        [defn, SUB_WF],
        [no_retry],
        simple_task_in_sub_wf=always({"o": 1}, status=TaskStatus.FAILED),
    )
    start(rt, "integration_test_fork_join_optional_sw")
    state = rt.state("wf")
    assert state.status is WorkflowStatus.COMPLETED
    listed = [(t.task_type, t.status) for t in tasks(state)]
    assert listed == [
        ("FORK", TaskStatus.COMPLETED),
        ("SUB_WORKFLOW", TaskStatus.COMPLETED_WITH_ERRORS),
        ("SUB_WORKFLOW", TaskStatus.COMPLETED_WITH_ERRORS),
        ("JOIN", TaskStatus.COMPLETED_WITH_ERRORS),
    ]
    st1, st2, join = tasks(state)[1:]
    assert join.reason == f"st1/{st1.task_id} st2/{st2.task_id} completed with errors"
    assert set(join.output) == {"st1", "st2"}  # the children's ids and outputs
    for child in (st1, st2):
        assert rt.state(str(child.child_workflow_id)).status is WorkflowStatus.FAILED
    live_equals_replay(rt)


# --- permissive tasks (WorkflowAndTaskConfigurationSpec, ForkJoinSpec) ------------------------


def test_workflow_and_task_configuration_spec_permissive_task(js: DefaultScriptEvaluator) -> None:
    """ "Test simple workflow which has a permissive task": retried per its TaskDef, then the
    workflow runs on (integration_task_2 is scheduled and completes) and fails at its end with
    the permissive task's reason; the output is the last task's."""
    defn = wf(
        "permissive_task_wf",
        [
            simple("t1", "task_permissive", permissive=True),
            simple("t2", "integration_task_2"),
        ],
    )
    task_def = TaskDef(name="task_permissive", retry_count=1, retry_delay_seconds=0)
    rt = runtime(
        js,
        [defn],
        [task_def, TaskDef(name="integration_task_2", retry_count=0)],
        task_permissive=fails("NETWORK ERROR"),
        integration_task_2=always({"t2": "done"}),
    )
    start(rt, "permissive_task_wf")
    state = rt.state("wf")
    listed = [(t.task_type, t.status) for t in tasks(state)]
    assert listed == [
        ("task_permissive", TaskStatus.FAILED),
        ("task_permissive", TaskStatus.FAILED),
        ("integration_task_2", TaskStatus.COMPLETED),
    ]
    second = tasks(state)[1]
    assert state.status is WorkflowStatus.FAILED
    assert (
        state.reason
        == f"Task {second.task_id} failed with status: FAILED and reason: 'NETWORK ERROR'"
    )
    assert state.output == {"t2": "done"}
    assert (state.failed_ref_names, state.failed_task_names) == (("t1",), ("task_permissive",))
    assert state.failed_task_id is None  # no task ended it
    live_equals_replay(rt)


def test_workflow_and_task_configuration_spec_permissive_optional_task(
    js: DefaultScriptEvaluator,
) -> None:
    """Optional wins over permissive: COMPLETED_WITH_ERRORS and the workflow COMPLETES."""
    defn = wf(
        "permissive_optional_task_wf",
        [
            simple("t1", "task_optional", permissive=True, optional=True),
            simple("t2", "integration_task_2"),
        ],
    )
    rt = runtime(
        js,
        [defn],
        [TaskDef(name="task_optional", retry_count=0), TaskDef(name="integration_task_2")],
        task_optional=always(status=TaskStatus.FAILED),
        integration_task_2=always(),
    )
    start(rt, "permissive_optional_task_wf")
    state = rt.state("wf")
    assert state.status is WorkflowStatus.COMPLETED
    assert [t.status for t in tasks(state)] == [
        TaskStatus.COMPLETED_WITH_ERRORS,
        TaskStatus.COMPLETED,
    ]


FORK_PERMISSIVE = wf(
    "FanInOutPermissiveTest",
    [
        *fork(
            [
                [simple("t1", "integration_task_1", permissive=True)],
                [simple("t2", "integration_task_2", permissive=True)],
            ],
            ["t1", "t2"],
        ),
        simple("t3", "integration_task_3"),
    ],
)
NO_RETRIES = [
    TaskDef(name=f"integration_task_{n}", retry_count=0, retry_delay_seconds=0) for n in (1, 2, 3)
]


def test_fork_join_spec_permissive_failure_flow(js: DefaultScriptEvaluator) -> None:
    """ForkJoinSpec "fork join permissive failure flow": the JOIN waits for the other branch,
    then FAILS with the permissive task's reason; the workflow fails, t3 never runs."""
    rt = runtime(
        js,
        [FORK_PERMISSIVE],
        NO_RETRIES,
        integration_task_1=fails("Failed...", {"x": 1}),
        integration_task_2=always({"b": 2}, after_ms=1000),  # ends after the failure
        integration_task_3=always(),
    )
    start(rt, "FanInOutPermissiveTest")
    state = rt.state("wf")
    listed = [(t.task_type, t.status) for t in tasks(state)]
    assert listed == [
        ("FORK", TaskStatus.COMPLETED),
        ("integration_task_1", TaskStatus.FAILED),
        ("integration_task_2", TaskStatus.COMPLETED),
        ("JOIN", TaskStatus.FAILED),
    ]
    join = tasks(state)[3]
    assert join.reason == "Failed..."
    assert state.status is WorkflowStatus.FAILED
    assert state.reason == f"Task {join.task_id} failed with status: FAILED and reason: 'Failed...'"
    assert state.output == join.output == {"t1": {"x": 1}, "t2": {"b": 2}}
    assert state.failed_ref_names == ("fanouttask_join", "t1")
    live_equals_replay(rt)


def test_fork_join_spec_permissive_task_mid_branch_lets_the_branch_and_workflow_go_on(
    js: DefaultScriptEvaluator,
) -> None:
    """A permissive task that is not the one the JOIN waits for: its branch goes on, the JOIN
    completes, the workflow runs to its end and fails there with the permissive reason."""
    defn = wf(
        "fork_permissive_mid_branch",
        [
            *fork(
                [
                    [
                        simple("a", "integration_task_1", permissive=True),
                        simple("a2", "integration_task_2"),
                    ],
                    [simple("b", "integration_task_3")],
                ],
                ["a2", "b"],
            ),
            simple("c", "integration_task_3"),
        ],
    )
    rt = runtime(
        js,
        [defn],
        NO_RETRIES,
        integration_task_1=fails("Failed A"),
        integration_task_2=always(),
        integration_task_3=always({"c": 3}),
    )
    start(rt, "fork_permissive_mid_branch")
    state = rt.state("wf")
    a = state.current("a")
    assert a is not None and a.status is TaskStatus.FAILED
    assert state.current("fanouttask_join").status is TaskStatus.COMPLETED  # type: ignore[union-attr]
    assert state.current("c").status is TaskStatus.COMPLETED  # type: ignore[union-attr]
    assert state.status is WorkflowStatus.FAILED
    assert state.reason == f"Task {a.task_id} failed with status: FAILED and reason: 'Failed A'"
    assert state.output == {"c": 3}
    live_equals_replay(rt)


def test_fork_join_spec_retrying_a_failed_permissive_fork_join_workflow(
    js: DefaultScriptEvaluator,
) -> None:
    """ForkJoinSpec "Test retrying a failed permissive fork join workflow": after a retry the
    failed permissive tasks run again; once they complete the JOIN does and so does t3."""
    calls: dict[str, int] = {}

    def first_fails(task: Any) -> Any:
        calls[task.reference_task_name] = calls.get(task.reference_task_name, 0) + 1
        status = TaskStatus.FAILED if calls[task.reference_task_name] == 1 else TaskStatus.COMPLETED
        return always(status=status)(task)

    rt = runtime(
        js,
        [FORK_PERMISSIVE],
        NO_RETRIES,
        integration_task_1=first_fails,
        integration_task_2=first_fails,
        integration_task_3=always({"done": True}),
    )
    start(rt, "FanInOutPermissiveTest")
    assert rt.state("wf").status is WorkflowStatus.FAILED
    rt.submit(cmd.RetryWorkflow(workflow_id="wf", at=T0 + 10, actor="api:test"))
    rt.run_until_idle()
    state = rt.state("wf")
    assert state.status is WorkflowStatus.COMPLETED, state.reason
    assert state.output == {"done": True}
    assert state.failed_ref_names == ("fanouttask_join", "t1", "t2")  # kept from the failure
    live_equals_replay(rt)


def test_terminate_after_a_permissive_failure_fails_the_workflow(
    js: DefaultScriptEvaluator,
) -> None:
    """Conductor's decide checks permissive failures when a TERMINATE ends the workflow too:
    FAILED with the permissive reason whatever the terminationStatus, TERMINATE's output."""
    defn = wf(
        "permissive_then_terminate",
        [
            simple("p", "fidfail_pp", permissive=True),
            {
                "name": "terminate",
                "taskReferenceName": "term",
                "type": "TERMINATE",
                "inputParameters": {"terminationStatus": "COMPLETED", "workflowOutput": {"k": 1}},
            },
        ],
        failureWorkflow="failure_workflow",
    )
    rt = runtime(
        js,
        [defn, FAILURE_WF],
        [TaskDef(name="fidfail_pp", retry_count=0)],
        fidfail_pp=fails("perm fail", status=TaskStatus.FAILED_WITH_TERMINAL_ERROR),
    )
    start(rt, "permissive_then_terminate")
    state = rt.state("wf")
    p = state.current("p")
    assert p is not None
    assert state.status is WorkflowStatus.FAILED
    assert state.reason == (
        f"Task {p.task_id} failed with status: FAILED_WITH_TERMINAL_ERROR and reason: 'perm fail'"
    )
    failure_id = state.output["conductor.failure_workflow"]
    assert state.output == {"k": 1, "conductor.failure_workflow": failure_id}


def test_fork_join_spec_permissive_sub_workflow_forks_terminated_by_the_user(
    js: DefaultScriptEvaluator,
) -> None:
    """ForkJoinSpec: both permissive children are terminated by hand: their tasks are CANCELED,
    the JOIN is CANCELED (a cancellation, not a failure) and the parent ends TERMINATED."""
    defn = wf(
        "integration_test_fork_join_permissive_sw",
        fork([[sub("st1", permissive=True)], [sub("st2", permissive=True)]], ["st1", "st2"]),
    )
    rt = runtime(js, [defn, SUB_WF], simple_task_in_sub_wf=never())
    start(rt, "integration_test_fork_join_permissive_sw", idle=False)
    children = [str(t.child_workflow_id) for t in tasks(rt.state("wf"))[1:3]]
    for child in children:
        assert rt.state(child).status is WorkflowStatus.RUNNING
        rt.submit(
            cmd.TerminateWorkflow(
                workflow_id=child,
                root_workflow_id="wf",
                at=T0 + 5,
                actor="api:user",
                reason="terminated by the user",
            )
        )
    state = rt.state("wf")
    assert state.status is WorkflowStatus.TERMINATED
    assert [(t.task_type, t.status) for t in tasks(state)] == [
        ("FORK", TaskStatus.COMPLETED),
        ("SUB_WORKFLOW", TaskStatus.CANCELED),
        ("SUB_WORKFLOW", TaskStatus.CANCELED),
        ("JOIN", TaskStatus.CANCELED),
    ]
    live_equals_replay(rt)


def test_lambda_and_terminate_task_spec_terminate_with_a_running_sub_workflow(
    js: DefaultScriptEvaluator,
) -> None:
    """LambdaAndTerminateTaskSpec "terminate task when the workflow has a subworkflow": the
    TERMINATE(COMPLETED) cancels the JOIN and the SUB_WORKFLOW task; the child is terminated
    with "Parent workflow has been terminated with reason: Workflow is COMPLETED by ..."."""
    script = "var i = 10; return {testvalue: $.lambdaValue == 1, iValue: i};"
    child = wf("test_terminate_task_sub_wf", [simple("t3", "integration_task_3")])
    parent = wf(
        "test_terminate_task_parent_wf",
        [
            *fork(
                [
                    [
                        lam("lambdaTask1", script, lambdaValue="${workflow.input.lambdaValue}"),
                        {
                            "name": "test_terminate_subworkflow",
                            "taskReferenceName": "test_terminate_subworkflow",
                            "type": "SUB_WORKFLOW",
                            "subWorkflowParam": {"name": "test_terminate_task_sub_wf"},
                        },
                    ],
                    [
                        lam("lambdaTask2", script, lambdaValue="${workflow.input.lambdaValue}"),
                        {"name": "wait", "taskReferenceName": "basicJavaA", "type": "WAIT"},
                        {
                            "name": "terminate",
                            "taskReferenceName": "terminate0",
                            "type": "TERMINATE",
                            "inputParameters": {
                                "terminationStatus": "COMPLETED",
                                "workflowOutput": {"some": "output"},
                            },
                        },
                        {"name": "wait2", "taskReferenceName": "basicJavaB", "type": "WAIT"},
                    ],
                ],
                ["test_terminate_subworkflow", "basicJavaB"],
            )
        ],
    )
    rt = runtime(js, [parent, child], integration_task_3=never())
    start(rt, "test_terminate_task_parent_wf", {"lambdaValue": 1}, idle=False)
    assert [(t.task_type, t.status) for t in tasks(rt.state("wf"))] == [
        ("FORK", TaskStatus.COMPLETED),
        ("LAMBDA", TaskStatus.COMPLETED),
        ("LAMBDA", TaskStatus.COMPLETED),
        ("JOIN", TaskStatus.IN_PROGRESS),
        ("SUB_WORKFLOW", TaskStatus.IN_PROGRESS),
        ("WAIT", TaskStatus.IN_PROGRESS),
    ]
    rt.submit(
        cmd.UpdateTaskByRef(
            workflow_id="wf",
            at=T0 + 10,
            actor="api:test",
            task_ref="basicJavaA",
            status=TaskStatus.COMPLETED,
            output={},
        )
    )
    state = rt.state("wf")
    terminate = state.current("terminate0")
    assert terminate is not None
    assert state.status is WorkflowStatus.COMPLETED and state.output == {"some": "output"}
    assert state.reason == f"Workflow is COMPLETED by TERMINATE task: {terminate.task_id}"
    assert [t.status for t in tasks(state)][3:] == [
        TaskStatus.CANCELED,  # the JOIN
        TaskStatus.CANCELED,  # the SUB_WORKFLOW
        TaskStatus.COMPLETED,  # the WAIT
        TaskStatus.COMPLETED,  # the TERMINATE
    ]
    sub_task = state.current("test_terminate_subworkflow")
    child_state = rt.state(str(sub_task.child_workflow_id))  # type: ignore[union-attr]
    assert child_state.status is WorkflowStatus.TERMINATED
    assert child_state.reason == (
        "Parent workflow has been terminated with reason: "
        f"Workflow is COMPLETED by TERMINATE task: {terminate.task_id}"
    )
    live_equals_replay(rt)


def test_fork_join_spec_rerun_of_an_optional_sub_workflow_leaves_the_parent_as_it_ended(
    js: DefaultScriptEvaluator,
) -> None:
    """ForkJoinSpec "fork join with optional sub workflow forks", its last step: rerunning a
    failed optional child runs the child again; the COMPLETED parent stays as it is (Conductor's
    updateAndPushParents stops at an optional SUB_WORKFLOW task)."""
    defn = wf(
        "optional_sw_rerun",
        fork([[sub("st1", optional=True)], [sub("st2", optional=True)]], ["st1", "st2"]),
    )
    failing = {"calls": 0}

    def worker(task: Any) -> Any:
        failing["calls"] += 1
        return Reply(status=TaskStatus.FAILED if failing["calls"] <= 2 else TaskStatus.COMPLETED)

    rt = runtime(
        js,
        [defn, SUB_WF],
        [TaskDef(name="simple_task_in_sub_wf", retry_count=0)],
        simple_task_in_sub_wf=worker,
    )
    start(rt, "optional_sw_rerun")
    before = rt.state("wf")
    assert before.status is WorkflowStatus.COMPLETED
    child = str(tasks(before)[1].child_workflow_id)
    rt.submit(
        cmd.RerunWorkflow(
            workflow_id=child,
            root_workflow_id="wf",
            at=T0 + 10,
            actor="api:test",
            from_task_id=tasks(rt.state(child))[0].task_id,
        )
    )
    rt.run_until_idle()
    assert rt.state(child).status is WorkflowStatus.COMPLETED  # the child ran again
    assert rt.state("wf") == before  # the parent did not move
    reruns = [r for c, r in rt.rejections if isinstance(c, cmd.RerunWorkflow)]
    assert [r.code for r in reruns] == [RejectionCode.TASK_ALREADY_TERMINAL]
