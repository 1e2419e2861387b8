"""START_WORKFLOW: completes at once with `workflowId` and emits the start of a new root."""

from __future__ import annotations

from orchestrator.domain import commands as cmd
from orchestrator.domain import ids
from orchestrator.domain.definitions_json import workflow_def_to_json
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.domain.tasks.start_workflow import read_request
from tests.unit.handler_kit import Flow, flow, task, workflow

OTHER = workflow("other", task("o1"), version=5)


def _starter(request: object, **start: object) -> Flow:
    starter = workflow(
        "starter",
        task("kick", "START_WORKFLOW", input_parameters={"startWorkflow": request}),
        task("after"),
    )
    f = flow([starter, OTHER])
    f.start("starter", {"n": 1}, **start)
    return f


def test_completes_at_once_with_a_workflow_id_derived_from_the_task_id() -> None:
    f = _starter({"name": "other", "input": {"n": "${workflow.input.n}"}})
    kick = f.task("kick")
    assert kick.status is TaskStatus.COMPLETED
    assert kick.output == {"workflowId": ids.child_workflow_id(kick.task_id)}
    assert f.task("after").status is TaskStatus.SCHEDULED


def test_emits_the_start_of_a_new_root_workflow_not_a_child() -> None:
    f = _starter({"name": "other", "input": {"n": "${workflow.input.n}"}}, correlation_id="c-9")
    [start] = f.emitted(cmd.StartWorkflow)
    assert start.workflow_id == f.task("kick").output["workflowId"]
    assert start.root_workflow_id == "" and start.root == start.workflow_id
    assert start.parent_workflow_id is None and start.parent_task_id is None
    assert (start.name, start.version, start.input) == ("other", None, {"n": 1})
    assert start.correlation_id == "c-9"  # the starter's, when the request has none


def test_request_fields_are_passed_on() -> None:
    request = {
        "name": "other",
        "version": "5",
        "correlationId": "mine",
        "priority": 7,
        "taskToDomain": {"o1": "red"},
    }
    [start] = _starter(request, task_to_domain={"*": "blue"}).emitted(cmd.StartWorkflow)
    assert (start.version, start.correlation_id, start.priority) == (5, "mine", 7)
    assert start.task_to_domain == {"o1": "red"}


def test_the_starters_task_to_domain_is_the_default() -> None:
    [start] = _starter({"name": "other"}, task_to_domain={"*": "blue"}).emitted(cmd.StartWorkflow)
    assert start.task_to_domain == {"*": "blue"}


def test_an_inline_workflow_def_is_started() -> None:
    inline = workflow("adhoc", task("a1"), version=2)
    [start] = _starter({"name": "x", "workflowDef": workflow_def_to_json(inline)}).emitted(
        cmd.StartWorkflow
    )
    assert start.definition == inline and start.name == "adhoc"


def test_missing_request_fails_the_task_and_starts_nothing() -> None:
    f = _starter(None)
    assert f.task("kick").status is TaskStatus.FAILED
    assert f.task("kick").reason == "Missing 'startWorkflow' in input data."
    assert f.emitted(cmd.StartWorkflow) == []
    assert f.st.status is WorkflowStatus.FAILED


def test_unknown_workflow_fails_the_task_with_a_clear_reason() -> None:
    f = _starter({"name": "nope", "version": 2})
    assert f.task("kick").reason == "No such workflow found by name: nope, version: 2"
    assert f.emitted(cmd.StartWorkflow) == []


def test_invalid_requests_are_explained() -> None:
    assert "'name'" in str(read_request({"startWorkflow": {"version": 1}}))
    assert "'version' must be an integer" in str(
        read_request({"startWorkflow": {"name": "a", "version": "x"}})
    )
    assert "priority" in str(read_request({"startWorkflow": {"name": "a", "priority": 100}}))
    assert "must be an object" in str(read_request({"startWorkflow": "other"}))
