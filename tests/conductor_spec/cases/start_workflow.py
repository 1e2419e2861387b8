"""StartWorkflowSpec: START_WORKFLOW with a workflow name, with an inline definition, and with an
input that is no StartWorkflowRequest."""

from __future__ import annotations

from typing import Any

from tests.conductor_spec.registry import case
from tests.conductor_spec.session import Session, ended

SPEC = "StartWorkflowSpec"
STARTER = "workflow_that_starts_another_workflow"
FILES = ("workflow_that_starts_another_workflow.json", "simple_workflow_1_integration_test.json")


def _started(s: Session, start_workflow: dict[str, Any]) -> None:
    s.workflows(*FILES)
    correlation_id = "start_workflow_correlation"
    wid = s.start(STARTER, {"startWorkflow": start_workflow}, correlation_id=correlation_id)
    wf = s.check("starter completed", wid, ended)
    tasks = wf.get("tasks") or []
    started = (tasks[0].get("outputData") or {}).get("workflowId") if tasks else None
    if not started:
        s.note("started workflow", "<no workflowId in the task output>")
        return
    s.check(
        "started workflow",
        str(started),
        lambda w: w.get("status") == "RUNNING",
        tasks=False,
        extract=lambda w: {
            "correlationId matches": w.get("correlationId") == correlation_id,
            "input present": w.get("input") is not None,
        },
    )


@case(SPEC, "start another workflow using #testCase.name (name and version)")
def start_by_name(s: Session) -> None:
    request = {
        "name": s.name("integration_test_wf"),
        "input": {"param1": "value1", "param2": "value2"},
    }
    _started(s, request)


@case(SPEC, "start another workflow using #testCase.name (workflow definition)")
def start_with_definition(s: Session) -> None:
    task1 = {
        "name": "integration_task_1",
        "taskReferenceName": "t1",
        "type": "SIMPLE",
        "inputParameters": {"tp1": "${workflow.input.param1}", "tp2": "${workflow.input.param2}"},
    }
    task2 = {
        "name": "integration_task_2",
        "taskReferenceName": "t2",
        "type": "SIMPLE",
        "inputParameters": {"tp1": "${workflow.input.param1}", "tp2": "${t1.output.op}"},
    }
    definition = {
        "name": "dynamic_wf",
        "version": 1,
        "tasks": [task1, task2],
        "ownerEmail": "abc@abc.com",
    }
    _started(s, {"name": s.name("dynamic_wf"), "workflowDef": s.workflow_def(definition)})


@case(SPEC, "start_workflow does not conform to StartWorkflowRequest")
def start_workflow_bad_request(s: Session) -> None:
    s.workflows(*FILES)
    workflow_input = {"start_workflow": {"param1": "value1", "param2": "value2"}}
    wid = s.start(STARTER, workflow_input)
    s.check(
        "starter failed",
        wid,
        ended,
        extract=lambda wf: [t.get("reasonForIncompletion") is not None for t in wf["tasks"]],
    )
