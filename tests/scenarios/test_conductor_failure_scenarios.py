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
from orchestrator.domain.state import TaskState, WorkflowState
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.testing import InMemoryRuntime, always
from orchestrator.testing.builders import T0
from orchestrator.testing.context import dict_context
from orchestrator.testing.workers import Worker

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


def start(rt: InMemoryRuntime, name: str, wf_input: Any = None, wid: str = "wf", **kw: Any) -> None:
    rt.submit(
        cmd.StartWorkflow(
            workflow_id=wid, at=T0, actor="api:test", name=name, input=wf_input or {}, **kw
        )
    )
    rt.run_until_idle()


def tasks(state: WorkflowState) -> list[TaskState]:
    """The task list as Conductor shows it: every attempt, in scheduling order."""
    return sorted(state.tasks.values(), key=lambda t: t.seq)


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
