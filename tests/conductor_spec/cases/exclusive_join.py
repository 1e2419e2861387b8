"""ExclusiveJoinSpec: EXCLUSIVE_JOIN after nested DECISIONs, each worker naming itself in its
output (taskReferenceName), the join answering the branch that ran."""

from __future__ import annotations

from tests.conductor_spec.registry import case
from tests.conductor_spec.session import Session, ended, task_status

SPEC = "ExclusiveJoinSpec"
JOIN_OUTPUT = lambda wf: [  # noqa: E731 - a one-line view
    (t.get("outputData") or {}).get("taskReferenceName")
    for t in wf["tasks"]
    if t["taskType"] == "EXCLUSIVE_JOIN"
]


def _run(s: Session, workflow_input: dict[str, str], tasks: list[int]) -> None:
    s.workflows("exclusive_join_integration_test.json")
    wid = s.start("ExclusiveJoinTestWorkflow", workflow_input, correlation_id="exclusive_join")
    for n in tasks:
        s.check(f"task{n} scheduled", wid, task_status(f"task{n}", "SCHEDULED"))
        s.complete(f"integration_task_{n}", {"taskReferenceName": f"task{n}"})
    s.check("ended", wid, ended, extract=JOIN_OUTPUT)


@case(SPEC, "Test that the default decision is run")
def default_decision(s: Session) -> None:
    _run(s, {"decision_1": "null"}, [1])


@case(SPEC, "Test when the one decision is true and the other is decision null")
def one_true_other_null(s: Session) -> None:
    _run(s, {"decision_1": "true", "decision_2": "null"}, [1, 2])


@case(SPEC, "Test when both the decisions, decision_1 and decision_2 are true")
def both_true(s: Session) -> None:
    _run(s, {"decision_1": "true", "decision_2": "true"}, [1, 2, 3])


@case(SPEC, "Test when decision_1 is false and  decision_3 is default")
def first_false_third_default(s: Session) -> None:
    _run(s, {"decision_1": "false", "decision_3": "null"}, [1, 4])


@case(SPEC, "Test when decision_1 is false and  decision_3 is true")
def first_false_third_true(s: Session) -> None:
    _run(s, {"decision_1": "false", "decision_3": "true"}, [1, 4, 5])
