"""DoWhileSpec: loops of worker and system tasks, forks and sub-workflows inside loops, retries,
iteration in scripts, SET_VARIABLE and DECISION inside loops, many iterations."""

from __future__ import annotations

from tests.conductor_spec.defs import harness_task_def
from tests.conductor_spec.registry import case
from tests.conductor_spec.session import Session, ended, status_is, task_status, tasks_n

SPEC = "DoWhileSpec"
IT = ("iteration",)


def _tasks(s: Session, *numbers: int, **changes: object) -> None:
    s.task_defs(*(harness_task_def(f"integration_task_{n}", **changes) for n in numbers))


def _run(s: Session, wid: str, steps: list[tuple[str, int]]) -> None:
    """Complete each task in turn, checking the workflow has `n` tasks after it."""
    for task, n in steps:
        s.complete(task, worker="integration.test.worker", fields=IT)
        s.check(f"{task} completed", wid, tasks_n(n), task_fields=IT)


@case(SPEC, "Test workflow with 2 iterations of five tasks")
def two_iterations_of_five_tasks(s: Session) -> None:
    _tasks(s, 1, 2, 3)
    s.workflows("do_while_five_loop_over_integration_test.json")
    wid = s.start(
        "do_while_five_loop_over_integration_test", {"loop": 2}, correlation_id="looptest"
    )
    s.check("started", wid, tasks_n(4), task_fields=IT)
    _run(
        s,
        wid,
        [
            ("integration_task_1", 6),
            ("integration_task_2", 9),
            ("integration_task_1", 11),
            ("integration_task_2", 12),
        ],
    )
    s.complete("integration_task_3", worker="integration.test.worker", fields=IT)
    s.check("completed", wid, status_is("COMPLETED"), task_fields=IT)


@case(SPEC, "Test workflow with 2 iterations of 3 system tasks")
def two_iterations_of_system_tasks(s: Session) -> None:
    _tasks(s, 1)
    s.workflows("do_while_system_tasks.json")
    wid = s.start("do_while_system_tasks", {"loop": 2}, correlation_id="looptest")
    s.check("started", wid, tasks_n(8), task_fields=IT)


@case(SPEC, "Test workflow with a single iteration Do While task")
def single_iteration(s: Session) -> None:
    _tasks(s, 0, 1, 2)
    s.workflows("do_while_integration_test.json")
    wid = s.start("Do_While_Workflow", {"loop": 1}, correlation_id="looptest")
    s.check("started", wid, tasks_n(2), task_fields=IT)
    _run(s, wid, [("integration_task_0", 6), ("integration_task_1", 6)])
    s.complete("integration_task_2", worker="integration.test.worker", fields=IT)
    s.check("completed", wid, status_is("COMPLETED"), task_fields=IT, decide=True)


@case(SPEC, "Test workflow with a single iteration Do While task with Sub workflow")
def single_iteration_with_sub_workflow(s: Session) -> None:
    _tasks(s, 0, 1, 2)
    s.task_defs("simple_task_in_sub_wf")
    s.workflows(
        "simple_one_task_sub_workflow_integration_test.json",
        "do_while_sub_workflow_integration_test.json",
    )
    wid = s.start("Do_While_Sub_Workflow", {"loop": 1}, correlation_id="looptest")
    s.check("started", wid, tasks_n(2), task_fields=IT)
    _run(s, wid, [("integration_task_0", 6), ("integration_task_1", 6)])
    s.complete("integration_task_2", worker="integration.test.worker", fields=IT)
    # the spec runs the SUB_WORKFLOW system task before it looks: the task is IN_PROGRESS
    in_progress = task_status("st1__1", "IN_PROGRESS")
    s.check("fork joined: sub-workflow next", wid, in_progress, task_fields=IT, decide=True)
    child = s.child(wid, "st1__1")
    s.check("sub-workflow running", child, tasks_n(1))
    s.complete("simple_task_in_sub_wf", fields=IT)
    s.check("sub-workflow completed", child, status_is("COMPLETED"))
    s.check("completed", wid, status_is("COMPLETED"), task_fields=IT, decide=True)


@case(SPEC, "Test retrying a failed do while workflow")
def retry_failed_do_while(s: Session) -> None:
    s.task_defs(
        harness_task_def("integration_task_0", retryCount=0),
        "integration_task_1",
        "integration_task_2",
    )
    s.workflows("do_while_integration_test.json")
    wid = s.start("Do_While_Workflow", {"loop": 1}, correlation_id="looptest")
    s.check("started", wid, tasks_n(2))
    s.fail("integration_task_0", "induced..failure", worker="integration.test.worker")
    s.check("failed", wid, status_is("FAILED"))
    s.operate("retry", s.client.retry(wid))
    s.check("retried", wid, tasks_n(3, "RUNNING"))
    _run(s, wid, [("integration_task_0", 7), ("integration_task_1", 7)])
    s.complete("integration_task_2", worker="integration.test.worker", fields=IT)
    s.check("completed", wid, status_is("COMPLETED"), decide=True)


@case(SPEC, "Test auto retrying a failed do while workflow")
def auto_retry_do_while(s: Session) -> None:
    s.task_defs(
        harness_task_def("integration_task_0", retryCount=1, retryDelaySeconds=0),
        "integration_task_1",
        "integration_task_2",
    )
    s.workflows("do_while_integration_test.json")
    wid = s.start("Do_While_Workflow", {"loop": 1}, correlation_id="looptest")
    s.check("started", wid, tasks_n(2))
    s.fail("integration_task_0", "induced..failure", worker="integration.test.worker")
    s.check("retried by itself", wid, tasks_n(3), task_fields=("retryCount",))
    _run(s, wid, [("integration_task_0", 7), ("integration_task_1", 7)])
    s.complete("integration_task_2", worker="integration.test.worker", fields=IT)
    s.check("completed", wid, status_is("COMPLETED"), decide=True)


@case(SPEC, "Test workflow with a iteration Do While task as subtask of a forkjoin task")
def do_while_in_fork(s: Session) -> None:
    _tasks(s, 0, 1, 2)
    s.workflows("do_while_as_subtask_integration_test.json")
    wid = s.start("Do_While_SubTask", {"loop": 1}, correlation_id="looptest")
    s.check("started", wid, tasks_n(5), task_fields=IT)
    _run(s, wid, [("integration_task_0", 6), ("integration_task_1", 6)])
    s.complete("integration_task_2", worker="integration.test.worker")
    s.check("completed", wid, status_is("COMPLETED"), task_fields=IT, decide=True)


@case(
    SPEC,
    "Test workflow with Do While task contains loop over task that use iteration in script expression",
)
def iteration_in_script(s: Session) -> None:
    s.workflows("do_while_iteration_fix_test.json")
    wid = s.start("Do_While_Workflow_Iteration_Fix", {"loop": 2}, correlation_id="looptest")
    s.check(
        "completed",
        wid,
        ended,
        extract=lambda wf: [t["outputData"].get("result") for t in wf["tasks"][1:]],
    )


@case(SPEC, "Test workflow with Do While task contains set variable task")
def set_variable_in_loop(s: Session) -> None:
    s.workflows("do_while_set_variable_fix.json")
    wid = s.start("do_while_Set_variable_fix", {"value": 2}, correlation_id="looptest")
    s.check("completed", wid, ended, extract=lambda wf: wf["tasks"][1]["inputData"].get("value"))


@case(SPEC, "Test workflow with Do While task contains decision task")
def decision_in_loop(s: Session) -> None:
    s.workflows("do_while_with_decision_task.json")
    wid = s.start("DO_While_with_Decision_task", {"list": [1, 2]}, correlation_id="looptest")
    wf = s.check("waiting in iteration 1", wid, tasks_n(4), task_fields=IT)
    s.update(_newest_in_progress(wf), "COMPLETED")
    wf = s.check("waiting in iteration 2", wid, tasks_n(8), task_fields=IT)
    s.update(_newest_in_progress(wf), "COMPLETED")
    s.check("completed", wid, status_is("COMPLETED"), task_fields=IT)


def _newest_in_progress(wf: dict) -> dict | None:
    waiting = [t for t in wf["tasks"][1:] if t["status"] == "IN_PROGRESS"]
    return waiting[-1] if waiting else None


def _task_at(wf: dict, i: int, *fields: str) -> object:
    tasks = wf["tasks"]
    if i >= len(tasks):
        return "<absent>"
    return {f: tasks[i].get(f) for f in fields} | {
        "result": (tasks[i].get("outputData") or {}).get("result")
    }


@case(
    SPEC,
    "Test DO_WHILE with 500 LAMBDA iterations completes without StackOverflowError",
    heavy=True,
)
def five_hundred_lambda_iterations(s: Session) -> None:
    s.workflows("do_while_high_iteration_test.json")
    wid = s.start("do_while_high_iteration_test", {"loop": 500}, correlation_id="overflow")
    s.check(
        "completed",
        wid,
        ended,
        tasks=False,
        extract=lambda wf: [
            _task_at(wf, i, "taskType", "status", "iteration") for i in (0, 1, 500)
        ],
        wait_s=90,
    )


@case(SPEC, "Test DO_WHILE iteration counter is correct at 500 iterations (issue #799)", heavy=True)
def iteration_counter_at_500(s: Session) -> None:
    s.workflows("do_while_iteration_fix_test.json")
    wid = s.start("Do_While_Workflow_Iteration_Fix", {"loop": 500}, correlation_id="iteration")
    s.check(
        "completed",
        wid,
        ended,
        tasks=False,
        extract=lambda wf: [
            _task_at(wf, i, "taskType", "status", "iteration") for i in (0, 1, 500)
        ],
        wait_s=90,
    )
