"""INLINE, SWITCH (javascript) and JSON_JQ_TRANSFORM with the REAL evaluators (QuickJS and jq).

The engine's unit tests use a table of fake scripts; these prove that what the engine passes to
the real evaluator is what Conductor users write (`$.x` is the task input's `x`).
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.adapters.scripting import DefaultScriptEvaluator
from orchestrator.domain import commands as cmd
from orchestrator.domain.definitions_json import parse_workflow_def
from orchestrator.domain.state import WorkflowState
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.testing import InMemoryRuntime, always
from orchestrator.testing.context import dict_context


@pytest.fixture(scope="module")
def real_scripts() -> DefaultScriptEvaluator:
    return DefaultScriptEvaluator()


def run(
    scripts: DefaultScriptEvaluator, tasks: list[dict[str, Any]], wf_input: Any
) -> WorkflowState:
    wf = parse_workflow_def({"name": "scripts", "version": 1, "tasks": tasks})
    rt = InMemoryRuntime(dict_context([wf], [], scripts), workers={"done": always({"ok": True})})
    rt.submit(
        cmd.StartWorkflow(
            workflow_id="wf", at=rt.clock.now, actor="api:test", name="scripts", input=wf_input
        )
    )
    rt.run_until_idle()
    return rt.state("wf")


def test_inline_javascript_sees_the_task_input_as_dollar(
    real_scripts: DefaultScriptEvaluator,
) -> None:
    state = run(
        real_scripts,
        [
            {
                "name": "calc",
                "taskReferenceName": "calc",
                "type": "INLINE",
                "inputParameters": {
                    "evaluatorType": "javascript",
                    "expression": "$.n * 2 + $.items.length",
                    "n": "${workflow.input.n}",
                    "items": "${workflow.input.items}",
                },
            }
        ],
        {"n": 20, "items": [1, 2]},
    )
    assert state.status is WorkflowStatus.COMPLETED
    assert state.current("calc").output == {"result": 42}


def test_javascript_switch_picks_the_case_from_the_input(
    real_scripts: DefaultScriptEvaluator,
) -> None:
    state = run(
        real_scripts,
        [
            {
                "name": "route",
                "taskReferenceName": "route",
                "type": "SWITCH",
                "evaluatorType": "javascript",
                "expression": "$.size > 10 ? 'big' : 'small'",
                "inputParameters": {"size": "${workflow.input.size}"},
                "decisionCases": {
                    "big": [
                        {
                            "name": "done",
                            "taskReferenceName": "big_path",
                            "type": "SIMPLE",
                            "taskDefinition": {"name": "done"},
                        }
                    ],
                    "small": [
                        {
                            "name": "done",
                            "taskReferenceName": "small_path",
                            "type": "SIMPLE",
                            "taskDefinition": {"name": "done"},
                        }
                    ],
                },
            }
        ],
        {"size": 11},
    )
    assert state.status is WorkflowStatus.COMPLETED
    assert state.current("route").output["selectedCase"] == "big"
    assert state.current("big_path").status is TaskStatus.COMPLETED
    assert state.current("small_path") is None


def test_runaway_inline_script_fails_its_task_with_a_clear_reason() -> None:
    scripts = DefaultScriptEvaluator(timeout_ms=200)
    state = run(
        scripts,
        [
            {
                "name": "spin",
                "taskReferenceName": "spin",
                "type": "INLINE",
                "inputParameters": {"evaluatorType": "javascript", "expression": "while (true) {}"},
            }
        ],
        {},
    )
    assert state.status is WorkflowStatus.FAILED
    task = state.current("spin")
    assert task.status is TaskStatus.FAILED
    assert "timed out" in (task.reason or "")


def test_jq_transform_gives_result_and_result_list(real_scripts: DefaultScriptEvaluator) -> None:
    state = run(
        real_scripts,
        [
            {
                "name": "jq",
                "taskReferenceName": "jq",
                "type": "JSON_JQ_TRANSFORM",
                "inputParameters": {
                    "queryExpression": ".xs[] | . * 2",
                    "xs": "${workflow.input.xs}",
                },
            }
        ],
        {"xs": [1, 2, 3]},
    )
    assert state.status is WorkflowStatus.COMPLETED
    assert state.current("jq").output == {"result": 2, "resultList": [2, 4, 6]}
