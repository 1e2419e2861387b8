"""SwitchTaskSpec and DecisionTaskSpec: the same features, with SWITCH and with DECISION."""

from __future__ import annotations

from typing import Any

from tests.conductor_spec.registry import case
from tests.conductor_spec.session import Session, Workflow, status_is, task_status, tasks_n

TASKS = [f"integration_task_{n}" for n in (1, 2, 3, 4, 10, 20)]


class Flavour:
    def __init__(self, kind: str, output_key: str, files: dict[str, str]) -> None:
        self.kind = kind  # SWITCH or DECISION
        self.output_key = output_key  # evaluationResult or caseOutput
        self.files = files

    def results(self, wf: Workflow) -> list[Any]:
        """The case output of every conditional task, in order (what the specs assert)."""
        return [
            (t.get("outputData") or {}).get(self.output_key)
            for t in wf["tasks"]
            if t["taskType"] == self.kind
        ]


SWITCH = Flavour(
    "SWITCH",
    "evaluationResult",
    {
        "simple": "simple_switch_task_integration_test.json",
        "fork": "switch_and_fork_join_integration_test.json",
        "conditional": "conditional_switch_task_workflow_integration_test.json",
    },
)
DECISION = Flavour(
    "DECISION",
    "caseOutput",
    {
        "simple": "simple_decision_task_integration_test.json",
        "fork": "decision_and_fork_join_integration_test.json",
        "conditional": "conditional_task_workflow_integration_test.json",
    },
)


def _simple(s: Session, f: Flavour, name: str) -> None:
    s.task_defs(*TASKS)
    s.workflows(f.files["simple"])
    wid = s.start(name, {"param1": "p1", "param2": "p2", "case": "c"}, correlation_id="switch")
    s.check("started", wid, tasks_n(2))
    s.complete("integration_task_1")
    s.check("t1 completed", wid, tasks_n(3))
    s.complete("integration_task_2")
    s.check("t2 completed", wid, tasks_n(4))
    s.complete("integration_task_20")
    s.check("completed", wid, status_is("COMPLETED"))


def _fork(s: Session, f: Flavour) -> None:
    s.task_defs(*TASKS)
    s.workflows(f.files["fork"])
    wid = s.start("ForkConditionalTest", {"param1": "p1", "param2": "p2", "case": "c"})
    s.check("started", wid, tasks_n(5))
    s.complete("integration_task_1")
    s.complete("integration_task_10")
    join = {"joinTask": {"input": ["joinOn"]}}
    s.check("t1, t10 completed", wid, tasks_n(6), task_data=join)
    s.complete("integration_task_2")
    s.check("t2 completed", wid, tasks_n(7), task_data=join)
    s.complete("integration_task_20")
    s.check("completed", wid, status_is("COMPLETED"), task_data=join, decide=True)


def _conditional(
    s: Session, f: Flavour, workflow_input: dict[str, Any], tasks: list[str], started: int
) -> None:
    """ConditionalTaskWF: nested conditionals, then a final one on `finalCase`."""
    s.task_defs(*TASKS)
    s.workflows(f.files["conditional"])
    wid = s.start("ConditionalTaskWF", workflow_input, correlation_id="conditional")
    s.check("started", wid, tasks_n(started), extract=f.results)
    for task in tasks:
        s.complete(task)
        s.check(f"{task} completed", wid, task_status(_ref(task), "COMPLETED"), extract=f.results)
    s.check("ended", wid, status_is("COMPLETED", "FAILED"), extract=f.results)


def _ref(task: str) -> str:
    return {"integration_task_4": "integration_task_4"}.get(task, "t" + task.rsplit("_", 1)[-1])


def _register(f: Flavour, spec: str, simple_name: str) -> None:
    kind = f.kind.lower()

    def simple(s: Session) -> None:
        _simple(s, f, simple_name)

    def fork(s: Session) -> None:
        _fork(s, f)

    def default_case(s: Session) -> None:
        _conditional(s, f, {"param1": "xxx", "param2": "two"}, ["integration_task_10"], 2)

    def nested_two(s: Session) -> None:
        _conditional(s, f, {"param1": "nested", "param2": "two"}, ["integration_task_2"], 3)

    def nested_one(s: Session) -> None:
        _conditional(s, f, {"param1": "nested", "param2": "one"}, ["integration_task_1"], 3)

    def three(s: Session) -> None:
        workflow_input = {"param1": "three", "param2": "two", "finalCase": "notify"}
        _conditional(s, f, workflow_input, ["integration_task_3", "integration_task_4"], 2)

    features = [
        (simple, f"simple_{kind}", f"Test simple {kind} workflow"),
        (
            fork,
            f"{kind}_leads_to_fork_join",
            f"Test a workflow that has a {kind} task that leads to a fork join",
        ),
        (
            default_case,
            "default_case",
            "Test default case condition execution of a conditional workflow",
        ),
        (
            nested_two,
            "nested_two",
            "Test case 'nested' and '#caseValue' condition execution of a conditional workflow (two)",
        ),
        (
            nested_one,
            "nested_one",
            "Test case 'nested' and '#caseValue' condition execution of a conditional workflow (one)",
        ),
        (three, "three_case", "Test 'three' case condition execution of a conditional workflow"),
    ]
    for fn, name, feature in features:
        fn.__name__ = name
        case(spec, feature)(fn)


_register(SWITCH, "SwitchTaskSpec", "SwitchWorkflow")
_register(DECISION, "DecisionTaskSpec", "DecisionWorkflow")


@case("SwitchTaskSpec", "Test switch with no default case workflow")
def switch_without_default_case(s: Session) -> None:
    s.task_defs(*TASKS)
    s.workflows("switch_with_no_default_case_integration_test.json")
    wid = s.start("SwitchWithNoDefaultCaseWF", {"param1": "p1", "param2": "p2"})
    s.check("started", wid, tasks_n(2))
    s.complete("integration_task_2")
    s.check("completed", wid, status_is("COMPLETED"))
