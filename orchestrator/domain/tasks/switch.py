"""SWITCH and DECISION: pick a case list by evaluating an expression over the task input.

As Conductor's SwitchTaskMapper / DecisionTaskMapper and their system tasks: the case value is
computed when the task is scheduled and recorded in its input (`case`, plus `hasChildren:
"true"` when the chosen list has tasks); the task COMPLETES at once with `evaluationResult` /
`selectedCase` (DECISION: `caseOutput`) and the first task of its case is scheduled. The
workflow goes on after the SWITCH when its case list ends (Conductor's getNextTask skips a
SWITCH with children), so `on_container_end` continues after the completed task.

A JOIN whose joinOn names the SWITCH itself is woken when the SWITCH completes, not when its
case ends (Conductor's JOIN only looks at the named task's status); ADR 0002 "known gaps".

Logs written before this rule (the SWITCH IN_PROGRESS until its case ended) still run on: such
a SWITCH completes when its case ends, and a workflow retry completes a CANCELED one in place.
SWITCH falls back to `defaultCase` only when no case key matched (an empty case list runs
nothing); DECISION also when the matched list is empty.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.domain.definitions import JSON, TaskType, WorkflowTask, effective_type
from orchestrator.domain.events import TaskProgressed
from orchestrator.domain.expressions import to_text
from orchestrator.domain.statuses import TaskStatus
from orchestrator.domain.tasks.common import BaseHandler, TaskError
from orchestrator.domain.tasks.inline import evaluate_script

if TYPE_CHECKING:
    from orchestrator.domain.cascade import Cascade
    from orchestrator.domain.state import TaskState

HAS_CHILDREN = "hasChildren"


def case_text(value: JSON) -> str:
    """Java's `"" + value` for what an evaluator returns (integral doubles print as ints, as
    GraalJS hands integral numbers back as Integer)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return to_text(value)


def case_tasks(wt: WorkflowTask, case: str) -> tuple[WorkflowTask, ...]:
    """The task list `case` selects (the default case when none matches)."""
    selected = wt.decision_cases.get(case)
    if effective_type(wt) is TaskType.DECISION:
        return selected or wt.default_case
    return wt.default_case if selected is None else selected


class SwitchHandler(BaseHandler):
    kinds: tuple[TaskType, ...] = (TaskType.SWITCH, TaskType.DECISION)
    initial_status = TaskStatus.IN_PROGRESS

    def prepare_input(self, c: Cascade, wt: WorkflowTask, resolved: JSON) -> JSON:
        params = resolved if isinstance(resolved, dict) else {}
        try:
            case = case_text(self._evaluate(c, wt, params))
        except TaskError as error:
            return {**params, "error": str(error)}
        # Conductor's DecisionTaskMapper records only the case; SWITCH keeps its inputs.
        base = {} if effective_type(wt) is TaskType.DECISION else params
        with_case: dict[str, JSON] = {**base, "case": case}
        if case_tasks(wt, case):
            with_case[HAS_CHILDREN] = "true"
        return with_case

    def _evaluate(self, c: Cascade, wt: WorkflowTask, params: dict[str, JSON]) -> JSON:
        if effective_type(wt) is TaskType.DECISION:
            if wt.case_value_param is not None:
                return params.get(wt.case_value_param)
            return evaluate_script(c, "javascript", wt.case_expression, params)
        return evaluate_script(c, wt.evaluator_type or "value-param", wt.expression, params)

    def start(self, c: Cascade, task: TaskState, wt: WorkflowTask) -> None:
        case = task.input.get("case")
        if case is None:
            c.fail(task.task_id, str(task.input.get("error", "no case value")))
            return
        tasks = case_tasks(wt, case)
        if not tasks:
            c.complete(task.task_id, self._output(task))
            return
        c.complete(task.task_id, self._output(task), settle=False)
        c.wake_join(c.state.tasks[task.task_id])
        c.schedule(tasks[0], task.iteration)

    def on_container_end(self, c: Cascade, container: TaskState, finished: TaskState) -> None:
        if container.status is TaskStatus.COMPLETED:
            c.continue_after(container)  # its case ran to its end: what follows the SWITCH
        elif not container.status.is_terminal:  # a log from before: it waited for its case
            c.complete(container.task_id, self._output(container))

    def on_retry(self, c: Cascade, task: TaskState, resume_subworkflow_tasks: bool) -> bool:
        """A FAILED SWITCH (no case) is evaluated anew; a CANCELED one is completed in place."""
        return complete_in_place(c, task)

    def _output(self, task: TaskState) -> JSON:
        return switch_output(task)


def switch_output(task: TaskState) -> JSON:
    case = task.input["case"]
    if task.kind == TaskType.DECISION:
        return {"caseOutput": [case]}
    return {"evaluationResult": [case], "selectedCase": case}


def complete_in_place(c: Cascade, task: TaskState) -> bool:
    """A SWITCH canceled while its case ran (a log from before it completed at once) is
    reopened and completed in place when its case runs again (retry, rerun). False if the
    SWITCH is not such a one (a COMPLETED one stays as it is)."""
    if task.status is not TaskStatus.CANCELED or "case" not in task.input:
        return False
    c.emit(TaskProgressed, task_id=task.task_id, output={})
    c.complete(task.task_id, switch_output(task), settle=False)
    return True
