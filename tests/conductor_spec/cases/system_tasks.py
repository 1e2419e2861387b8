"""SetVariableTaskSpec, WaitTaskSpec, EventTaskSpec: SET_VARIABLE, WAIT completed over the API,
EVENT to the conductor sink (plain and asyncComplete)."""

from __future__ import annotations

from typing import Any

from tests.conductor_spec.registry import case
from tests.conductor_spec.session import Session, Workflow, status_is, tasks_n

VARIABLES = ("var",)


def _waiting(wf: Workflow) -> dict[str, Any] | None:
    found = [t for t in wf.get("tasks") or [] if t["taskType"] == "WAIT"]
    return found[-1] if found else None


@case("SetVariableTaskSpec", "Test workflow with set variable task")
def set_variable(s: Session) -> None:
    s.workflows("simple_set_variable_workflow_integration_test.json")
    wid = s.start("test_set_variable_wf", {"var": "var_test_value"})
    s.check("completed", wid, status_is("COMPLETED", "FAILED"), variables=("*",), output=("*",))


# SetVariableTaskSpec's "passing variables payload size threshold" is left out: it depends on
# conductor.app.maxWorkflowVariablesPayloadSizeThreshold, 2 KB in the harness's properties.


@case("WaitTaskSpec", "Test workflow with set variable task")
def set_variable_then_wait(s: Session) -> None:
    s.task_defs({"name": "simple", "ownerEmail": "test@harness.com"})
    s.workflows("set_variable_workflow_integration_test.json")
    wid = s.start("set_variable_workflow_integration_test", {"var": "var_test_value"})
    s.check("started", wid, tasks_n(1))
    s.complete("simple", {"ok1": "ov1"}, worker="simple.worker")
    wf = s.check("waiting", wid, tasks_n(3), variables=("*",))
    s.update(_waiting(wf), "COMPLETED")
    s.check("completed", wid, status_is("COMPLETED"), variables=("*",), output=("*",))


@case("WaitTaskSpec", "Verify that a wait based simple workflow is executed")
def wait_completed_by_api(s: Session) -> None:
    s.workflows("wait_workflow_integration_test.json")
    wid = s.start("test_wait_workflow", {})
    wf = s.check("waiting", wid, tasks_n(1))
    s.update(_waiting(wf), "COMPLETED")
    s.check("WAIT completed", wid, tasks_n(2))
    s.complete("integration_task_1")
    s.check("completed", wid, status_is("COMPLETED"))


def _event_produced(wf: Workflow) -> Any:
    return [bool((t.get("outputData") or {}).get("event_produced")) for t in wf["tasks"][:1]]


@case("EventTaskSpec", "Verify that a event based simple workflow is executed")
def event_task(s: Session) -> None:
    s.workflows("event_workflow_integration_test.json")
    wid = s.start("test_event_workflow", {})
    s.check("event published", wid, tasks_n(2), extract=_event_produced)
    s.complete("integration_task_1")
    s.check("completed", wid, status_is("COMPLETED"), extract=_event_produced)


@case("EventTaskSpec", "Test a workflow with event task that is asyncComplete")
def event_task_async_complete(s: Session) -> None:
    wf_def = s.workflow_def("event_workflow_integration_test.json")
    wf_def["tasks"][0]["asyncComplete"] = True
    s.workflows(wf_def)
    wid = s.start("test_event_workflow", {})
    wf = s.check(
        "event published, task in progress",
        wid,
        lambda wf: len(wf["tasks"]) == 1 and wf["tasks"][0]["status"] == "IN_PROGRESS",
        extract=_event_produced,
    )
    s.update(wf["tasks"][0] if wf["tasks"] else None, "COMPLETED")
    s.check("event task completed by the API", wid, tasks_n(2), extract=_event_produced)
    s.complete("integration_task_1")
    s.check("completed", wid, status_is("COMPLETED"), extract=_event_produced)
