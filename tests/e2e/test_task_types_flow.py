"""Control-flow task types on the real stack: FORK_JOIN + JOIN, FORK_JOIN_DYNAMIC (classic and
simplified), DO_WHILE (condition, items), a fork inside a loop inside a sub-workflow,
SUB_WORKFLOW, START_WORKFLOW and EXCLUSIVE_JOIN; and many forks at once.

One processor and one worker process serve the module; the fixture starts every workflow at
once, each test reads its workflow's history from the events topic.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from orchestrator.domain import events as ev
from orchestrator.domain.definitions_json import parse_workflow_def
from tests.e2e.e2e_defs import WORKERS_MODULE, simple, system, task_defs, workflow
from tests.e2e.e2e_support import Stack, output_of, scheduled, stack_for_module, the

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(180)]

CONCURRENT_FORKS = 40

CHILD_ADD = workflow(
    "e2e_child_add",
    simple(
        "add", "e2e_add", inputParameters={"a": "${workflow.input.a}", "b": "${workflow.input.b}"}
    ),
    outputParameters={"total": "${add.output.sum}"},
)

FORK = workflow(
    "e2e_fork",
    system(
        "fork",
        "FORK_JOIN",
        forkTasks=[
            [
                simple("a1", "e2e_add", inputParameters={"a": "${workflow.input.n}", "b": 1}),
                simple("a2", inputParameters={"prev": "${a1.output.sum}"}),
            ],
            [simple("b1", inputParameters={"n": "${workflow.input.n}"})],
        ],
    ),
    system("join", "JOIN", joinOn=["a2", "b1"]),
    simple("after", inputParameters={"joined": "${join.output}"}),
)

LOOP_WITH_FORK = workflow(
    "e2e_loop_with_fork",
    system(
        "cl",
        "DO_WHILE",
        loopCondition="$.cl['iteration'] < 2",
        loopOver=[
            system("fk", "FORK_JOIN", forkTasks=[[simple("fa")], [simple("fb")]]),
            system("jn", "JOIN", joinOn=["fa", "fb"]),
        ],
    ),
    outputParameters={"iterations": "${cl.output.iteration}", "lastJoin": "${jn.output}"},
)


def dynamic_fork(ref: str, **extra: Any) -> dict[str, Any]:
    return system(ref, "FORK_JOIN_DYNAMIC", **extra)


PLAN_JS = """
function plan() {
  var tasks = [], inputs = {};
  for (var i = 0; i < $.n; i++) {
    tasks.push({name: 'e2e_echo', taskReferenceName: 'img' + i});
    inputs['img' + i] = {size: (i + 1) * 100};
  }
  return {tasks: tasks, inputs: inputs};
}
plan();
"""

SCENARIOS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "fork": (FORK, {"n": 1}),
    "dynamic_classic": (
        workflow(
            "e2e_dynamic_classic",
            system(
                "plan",
                "INLINE",
                inputParameters={"evaluatorType": "javascript", "expression": PLAN_JS, "n": 3},
            ),
            dynamic_fork(
                "dfork",
                inputParameters={
                    "t": "${plan.output.result.tasks}",
                    "i": "${plan.output.result.inputs}",
                },
                dynamicForkTasksParam="t",
                dynamicForkTasksInputParamName="i",
            ),
            system("djoin", "JOIN"),
        ),
        {},
    ),
    "dynamic_simple": (
        workflow(
            "e2e_dynamic_simple",
            dynamic_fork(
                "sfork",
                inputParameters={
                    "forkTaskName": "e2e_echo",
                    "forkTaskInputs": "${workflow.input.to}",
                },
            ),
            system("sjoin", "JOIN"),
        ),
        {"to": ["a@x", {"addr": "b@x"}]},
    ),
    "loop_count": (
        workflow(
            "e2e_loop_count",
            system(
                "loop",
                "DO_WHILE",
                loopCondition="$.loop['iteration'] < 3",
                loopOver=[simple("work")],
            ),
            simple("after_loop", inputParameters={"last": "${work.output.iteration}"}),
        ),
        {},
    ),
    "loop_items": (
        workflow(
            "e2e_loop_items",
            system(
                "each",
                "DO_WHILE",
                items="${workflow.input.people}",
                loopOver=[simple("greet", inputParameters={"who": "${each.output.loopItem}"})],
            ),
        ),
        {"people": ["ana", "bo"]},
    ),
    "nested": (
        workflow(
            "e2e_nested",
            system(
                "sub",
                "SUB_WORKFLOW",
                subWorkflowParam={"name": "e2e_loop_with_fork", "version": 1},
            ),
            outputParameters={"child": "${sub.output.lastJoin}", "n": "${sub.output.iterations}"},
        ),
        {},
    ),
    "sub_workflow": (
        workflow(
            "e2e_parent",
            simple("pre", "e2e_add", inputParameters={"a": 1, "b": 2}),
            system(
                "sub",
                "SUB_WORKFLOW",
                subWorkflowParam={"name": "e2e_child_add", "version": 1},
                inputParameters={"a": "${pre.output.sum}", "b": 10},
            ),
            outputParameters={
                "total": "${sub.output.total}",
                "childId": "${sub.output.subWorkflowId}",
            },
        ),
        {},
    ),
    "start_workflow": (
        workflow(
            "e2e_starter",
            system(
                "launch",
                "START_WORKFLOW",
                inputParameters={
                    "startWorkflow": {
                        "name": "e2e_child_add",
                        "version": 1,
                        "input": {"a": 5, "b": 6},
                    }
                },
            ),
        ),
        {},
    ),
    "exclusive_join": (
        workflow(
            "e2e_exclusive_join",
            system(
                "route",
                "SWITCH",
                evaluatorType="value-param",
                expression="kind",
                inputParameters={"kind": "${workflow.input.kind}"},
                decisionCases={
                    "a": [simple("a1")],
                    "b": [simple("b1"), simple("b2", inputParameters={"v": 2})],
                },
            ),
            system("xj", "EXCLUSIVE_JOIN", joinOn=["a1", "b2"]),
            simple("last", inputParameters={"joined": "${xj.output.ref}"}),
        ),
        {"kind": "b"},
    ),
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    children = [parse_workflow_def(d) for d in (CHILD_ADD, LOOP_WITH_FORK)]
    with stack_for_module(
        tmp_path_factory.mktemp("task-types-flow"),
        workers=[WORKERS_MODULE],
        definitions=[*task_defs(), *children],
    ) as s:
        for name, (definition, workflow_input) in SCENARIOS.items():
            s.start(name, definition, workflow_input)
        for i in range(CONCURRENT_FORKS):
            s.start(f"many-{i}", FORK, {"n": 100 + i})
        s.sender.flush()
        yield s


def test_fork_join_runs_branches_and_joins_their_outputs(stack: Stack) -> None:
    h = stack.finished("fork")
    joined = output_of(h, "join")
    assert set(joined) == {"a2", "b1"}
    assert joined["a2"]["echo"] == {"prev": 2} and joined["b1"]["echo"] == {"n": 1}
    assert output_of(h, "after")["echo"] == {"joined": joined}
    refs = [e.ref for e in h if isinstance(e, ev.TaskScheduled)]
    # Conductor's order: the branches' first tasks, then the JOIN, all in the fork's decision,
    # so the JOIN exists before any branch moves on
    assert refs.index("a1") < refs.index("join") < refs.index("a2")


def test_many_forks_run_concurrently_and_all_join(stack: Stack) -> None:
    names = [f"many-{i}" for i in range(CONCURRENT_FORKS)]
    stack.wait_ended([stack.ids[n] for n in names], 90)
    for i, name in enumerate(names):
        joined = output_of(stack.finished(name), "join")
        assert joined["a2"]["echo"] == {"prev": 100 + i + 1}
        assert joined["b1"]["echo"] == {"n": 100 + i}


def test_classic_dynamic_fork_runs_the_planned_tasks(stack: Stack) -> None:
    h = stack.finished("dynamic_classic")
    assert scheduled(h, "dfork")[0].input["forkedTasks"] == ["img0", "img1", "img2"]
    joined = output_of(h, "djoin")
    assert {ref: out["echo"] for ref, out in joined.items()} == {
        f"img{i}": {"size": (i + 1) * 100} for i in range(3)
    }


def test_simplified_dynamic_fork_runs_one_task_per_input(stack: Stack) -> None:
    h = stack.finished("dynamic_simple")
    joined = output_of(h, "sjoin")
    assert {ref: out["echo"] for ref, out in joined.items()} == {
        "_e2e_echo_0": {"input": "a@x", "__index": 0},
        "_e2e_echo_1": {"addr": "b@x", "__index": 1},
    }


def test_do_while_loops_until_its_condition_is_false(stack: Stack) -> None:
    h = stack.finished("loop_count")
    assert [e.ref for e in h if isinstance(e, ev.TaskScheduled) and e.definition_ref == "work"] == [
        "work__1",
        "work__2",
        "work__3",
    ]
    out = output_of(h, "loop")
    assert out["iteration"] == 3
    assert [out[str(i)]["work"]["iteration"] for i in (1, 2, 3)] == [1, 2, 3]
    assert output_of(h, "after_loop")["echo"] == {"last": 3}  # unsuffixed ref = latest


def test_do_while_over_items(stack: Stack) -> None:
    h = stack.finished("loop_items")
    out = output_of(h, "each")
    assert out["1"]["greet"]["echo"] == {"who": "ana"}
    assert out["2"]["greet"]["echo"] == {"who": "bo"}
    assert (out["iteration"], out["loopIndex"], out["loopItem"]) == (2, 1, "bo")


def test_fork_inside_a_loop_inside_a_sub_workflow(stack: Stack) -> None:
    h = stack.finished("nested")
    sub = scheduled(h, "sub")[0]
    child = stack.finished(sub.child_workflow_id)
    assert the(child, ev.WorkflowStarted).parent_workflow_id == stack.ids["nested"]
    refs = [e.ref for e in child if isinstance(e, ev.TaskScheduled)]
    assert refs == [
        "cl",
        *("fk__1", "fa__1", "fb__1", "jn__1"),  # Conductor's order: branches, then the JOIN
        *("fk__2", "fa__2", "fb__2", "jn__2"),
    ]
    for i in (1, 2):
        assert output_of(child, f"fa__{i}")["iteration"] == i
        assert output_of(child, f"fb__{i}")["iteration"] == i
        assert len(output_of(child, f"jn__{i}")) == 2
    loop = output_of(child, "cl")
    assert loop["iteration"] == 2 and set(loop["1"]) == {"fk", "jn", "fa", "fb"}
    assert the(h, ev.WorkflowCompleted).output["n"] == 2  # the child's output reached the parent


def test_join_inside_a_loop_keys_its_output_by_iteration_refs(stack: Stack) -> None:
    """Conductor's Join: inside a loop (iteration > 0) it waits on, and outputs under, the
    iteration's refs (`TaskUtils.appendIteration`), e.g. {"fa__1": ..., "fb__1": ...}."""
    h = stack.finished("nested")
    child = stack.finished(scheduled(h, "sub")[0].child_workflow_id)
    for i in (1, 2):
        assert set(output_of(child, f"jn__{i}")) == {f"fa__{i}", f"fb__{i}"}
    assert set(the(h, ev.WorkflowCompleted).output["child"]) == {"fa__2", "fb__2"}


def test_sub_workflow_output_reaches_the_parent(stack: Stack) -> None:
    wid = stack.ids["sub_workflow"]
    h = stack.finished("sub_workflow")
    task = scheduled(h, "sub")[0]
    child = stack.finished(task.child_workflow_id)
    started = the(child, ev.WorkflowStarted)
    assert (started.parent_workflow_id, started.parent_task_id) == (wid, task.task_id)
    assert started.root_workflow_id == wid and started.input == {"a": 3, "b": 10}
    assert the(child, ev.WorkflowCompleted).output == {"total": 13}
    assert output_of(h, "sub") == {"subWorkflowId": task.child_workflow_id, "total": 13}
    assert the(h, ev.WorkflowCompleted).output == {"total": 13, "childId": task.child_workflow_id}


def test_start_workflow_starts_an_independent_workflow(stack: Stack) -> None:
    h = stack.finished("start_workflow")
    started_id = output_of(h, "launch")["workflowId"]
    other = stack.finished(started_id)
    started = the(other, ev.WorkflowStarted)
    assert started.parent_workflow_id is None
    assert started.root_workflow_id in ("", started_id)  # its own root, its own Kafka key
    assert the(other, ev.WorkflowCompleted).output == {"total": 11}


def test_exclusive_join_takes_the_output_of_the_branch_that_ran(stack: Stack) -> None:
    h = stack.finished("exclusive_join")
    assert not scheduled(h, "a1")
    assert output_of(h, "xj")["echo"] == {"v": 2}
    assert output_of(h, "last")["echo"] == {"joined": "b2"}
