"""DYNAMIC and EXCLUSIVE_JOIN through the in-memory runtime."""

from __future__ import annotations

from orchestrator.domain import commands as cmd
from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.statuses import WorkflowStatus
from orchestrator.testing import InMemoryRuntime, always
from orchestrator.testing.builders import T0, task, workflow
from orchestrator.testing.context import dict_context


def _runtime(definition: object, *names: str) -> InMemoryRuntime:
    return InMemoryRuntime(
        ctx=dict_context([definition], [TaskDef(name=n) for n in names]),  # type: ignore[list-item]
        workers={n: always(lambda t, n=n: {"by": n, "in": t.input_data}) for n in names},  # type: ignore[misc]
    )


def test_dynamic_task_runs_as_the_registered_task_its_input_names() -> None:
    dyn = workflow(
        "dyn",
        task(
            "pick",
            "DYNAMIC",
            name="chooser",
            dynamic_task_name_param="which",
            input_parameters={"which": "${workflow.input.which}", "x": 1},
        ),
    )
    rt = _runtime(dyn, "email", "sms")
    rt.submit(
        cmd.StartWorkflow(
            workflow_id="d-1", at=T0, actor="api:t", name="dyn", input={"which": "sms"}
        )
    )
    assert [d.task_type for d in rt.dispatched] == ["sms"]
    state = rt.state("d-1")
    assert state.status is WorkflowStatus.COMPLETED
    assert state.output == {"by": "sms", "in": {"which": "sms", "x": 1}}


def test_exclusive_join_after_a_switch_takes_the_output_of_the_branch_that_ran() -> None:
    flow = workflow(
        "route",
        task(
            "sw",
            "SWITCH",
            evaluator_type="value-param",
            expression="kind",
            input_parameters={"kind": "${workflow.input.kind}"},
            decision_cases={
                "a": (task("a1", name="ta"),),
                "b": (task("b1", name="tb"), task("b2", name="tc")),
            },
        ),
        task("xj", "EXCLUSIVE_JOIN", join_on=("a1", "b2")),
        task("last", name="tlast", input_parameters={"joined": "${xj.output.by}"}),
    )
    rt = _runtime(flow, "ta", "tb", "tc", "tlast")
    rt.submit(
        cmd.StartWorkflow(
            workflow_id="r-1", at=T0, actor="api:t", name="route", input={"kind": "b"}
        )
    )
    state = rt.state("r-1")
    assert state.status is WorkflowStatus.COMPLETED
    assert state.current("xj").output == {"by": "tc", "in": {}}  # type: ignore[union-attr]
    assert state.current("last").input == {"joined": "tc"}  # type: ignore[union-attr]
    assert state.current("a1") is None
