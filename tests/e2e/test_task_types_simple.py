"""SIMPLE tasks on the real stack, as Conductor runs them: input expressions, a retry after a
FAILED attempt (retryDelaySeconds 1, a durable timer), an optional task failing
(COMPLETED_WITH_ERRORS, the workflow goes on), FAILED_WITH_TERMINAL_ERROR (never retried: the
workflow fails and its failureWorkflow starts with workflowId and reason), and DYNAMIC.

One processor and one worker process (tests/e2e/e2e_workers.py) serve the module; the fixture
starts every workflow at once, each test reads its workflow's history from the events topic.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from orchestrator.domain import events as ev
from orchestrator.domain.definitions_json import parse_workflow_def
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from tests.e2e.e2e_defs import WORKERS_MODULE, simple, task_defs, workflow
from tests.e2e.e2e_support import Stack, of_task, output_of, scheduled, stack_for_module, the

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(180)]

FAILURE_WF = workflow(
    "e2e_on_failure",
    simple(
        "report",
        inputParameters={
            "failed": "${workflow.input.workflowId}",
            "why": "${workflow.input.reason}",
        },
    ),
)

SCENARIOS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "expressions": (
        workflow(
            "e2e_expressions",
            simple("add", "e2e_add", inputParameters={"a": "${workflow.input.x}", "b": 2}),
            simple(
                "show",
                inputParameters={
                    "sum": "${add.output.sum}",
                    "text": "sum=${add.output.sum} of ${workflow.input.x}",
                    "whole": "${workflow.input}",
                    "missing": "${workflow.input.nope}",
                    "wfId": "${workflow.workflowId}",
                    "list": ["${workflow.input.x}", "${add.output.sum}"],
                },
            ),
            outputParameters={"sum": "${add.output.sum}", "shown": "${show.output.echo}"},
        ),
        {"x": 40},
    ),
    "retry": (workflow("e2e_retry", simple("flaky", "e2e_flaky")), {}),
    "optional": (
        workflow("e2e_optional", simple("fails", "e2e_fail", optional=True), simple("after")),
        {},
    ),
    "terminal": (
        workflow(
            "e2e_terminal_flow",
            simple("doomed", "e2e_terminal"),
            simple("never"),
            failureWorkflow="e2e_on_failure",
        ),
        {"order": 7},
    ),
    "dynamic": (
        workflow(
            "e2e_dynamic",
            {
                "name": "chooser",
                "taskReferenceName": "dyn",
                "type": "DYNAMIC",
                "dynamicTaskNameParam": "taskToRun",
                "inputParameters": {"taskToRun": "${workflow.input.which}", "x": 1},
            },
        ),
        {"which": "e2e_echo"},
    ),
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with stack_for_module(
        tmp_path_factory.mktemp("task-types-simple"),
        workers=[WORKERS_MODULE],
        definitions=[*task_defs(), parse_workflow_def(FAILURE_WF)],
    ) as s:
        for name, (definition, workflow_input) in SCENARIOS.items():
            s.start(name, definition, workflow_input)
        s.sender.flush()
        yield s


def test_simple_task_inputs_are_resolved_from_expressions(stack: Stack) -> None:
    h = stack.finished("expressions")
    wid = stack.ids["expressions"]
    show = scheduled(h, "show")[0]
    assert show.input == {
        "sum": 42,  # a whole-string expression keeps the type
        "text": "sum=42 of 40",  # inside a string it is interpolated as text
        "whole": {"x": 40},
        "missing": None,
        "wfId": wid,
        "list": [40, 42],
    }
    assert the(h, ev.WorkflowCompleted).output == {"sum": 42, "shown": show.input}


def test_failed_attempt_is_retried_after_retry_delay(stack: Stack) -> None:
    h = stack.finished("retry")
    first, second = scheduled(h, "flaky")
    failed = the(h, ev.TaskFailed)
    assert failed.task_id == first.task_id and failed.status is TaskStatus.FAILED
    assert "ConnectionError: e2e_flaky: first attempt fails" in failed.reason
    assert (second.retry_count, second.retried_task_id) == (1, first.task_id)
    queued = of_task(h, second.task_id, ev.TaskQueued)[0]
    assert queued.at - failed.at >= 1000  # retryDelaySeconds 1, held by a durable timer
    assert the(h, ev.WorkflowCompleted).output == {"attempt": 1}


def test_optional_task_failure_completes_with_errors_and_workflow_goes_on(stack: Stack) -> None:
    h = stack.finished("optional")
    fails = scheduled(h, "fails")
    assert len(fails) == 1  # retryCount 0
    assert of_task(h, fails[0].task_id, ev.TaskFailed)[0].status is TaskStatus.FAILED
    assert of_task(h, fails[0].task_id, ev.TaskCompletedWithErrors)
    assert output_of(h, "after")["ref"] == "after"
    assert isinstance(h[-1], ev.WorkflowCompleted)


def test_terminal_error_is_not_retried_and_starts_the_failure_workflow(stack: Stack) -> None:
    wid = stack.ids["terminal"]
    h = stack.finished("terminal")
    attempts = scheduled(h, "doomed")
    assert len(attempts) == 1  # retryCount 3, but FAILED_WITH_TERMINAL_ERROR is final
    failed = the(h, ev.TaskFailed)
    assert failed.status is TaskStatus.FAILED_WITH_TERMINAL_ERROR
    assert failed.output == {"code": 42}
    assert not scheduled(h, "never")
    end = the(h, ev.WorkflowFailed)
    assert end.status is WorkflowStatus.FAILED and end.failed_task_id == attempts[0].task_id
    assert end.failure_workflow_id
    handler = stack.finished(end.failure_workflow_id)
    started = the(handler, ev.WorkflowStarted)
    assert started.definition.name == "e2e_on_failure"
    assert started.input["workflowId"] == wid
    assert started.input["reason"] == end.reason and "no point retrying" in end.reason
    assert started.input["failureStatus"] == "FAILED"
    assert started.input["order"] == 7  # the failed workflow's input comes along
    assert output_of(handler, "report")["echo"] == {"failed": wid, "why": end.reason}


def test_dynamic_task_runs_the_task_named_by_its_input(stack: Stack) -> None:
    h = stack.finished("dynamic")
    task = scheduled(h, "dyn")[0]
    assert (task.task_type, task.name) == ("e2e_echo", "e2e_echo")
    assert output_of(h, "dyn")["echo"] == {"taskToRun": "e2e_echo", "x": 1}
