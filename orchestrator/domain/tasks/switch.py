"""SWITCH and DECISION: pick a case list by evaluating an expression over the task input.

As in Conductor, the case value is computed when the task is scheduled and recorded in its
input (`case`); the task stays IN_PROGRESS while its case runs and completes when the case list
ends (an empty or missing case completes it at once), then the workflow goes on after it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.domain.definitions import JSON, TaskType, WorkflowTask, effective_type
from orchestrator.domain.expressions import to_text
from orchestrator.domain.statuses import TaskStatus
from orchestrator.domain.tasks.common import BaseHandler, TaskError
from orchestrator.domain.tasks.inline import evaluate_script

if TYPE_CHECKING:
    from orchestrator.domain.cascade import Cascade
    from orchestrator.domain.state import TaskState


def case_text(value: JSON) -> str:
    """Java's `"" + value` for what an evaluator returns (integral doubles print as ints, as
    GraalJS hands integral numbers back as Integer)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return to_text(value)


class SwitchHandler(BaseHandler):
    kinds: tuple[TaskType, ...] = (TaskType.SWITCH, TaskType.DECISION)
    initial_status = TaskStatus.IN_PROGRESS

    def prepare_input(self, c: Cascade, wt: WorkflowTask, resolved: JSON) -> JSON:
        params = resolved if isinstance(resolved, dict) else {}
        try:
            return {**params, "case": case_text(self._evaluate(c, wt, params))}
        except TaskError as error:
            return {**params, "error": str(error)}

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
        selected = wt.decision_cases.get(case)
        tasks = wt.default_case if selected is None else selected
        if tasks:
            c.schedule(tasks[0], task.iteration)
        else:
            c.complete(task.task_id, self._output(task))

    def on_container_end(self, c: Cascade, container: TaskState, finished: TaskState) -> None:
        c.complete(container.task_id, self._output(container))

    def _output(self, task: TaskState) -> JSON:
        case = task.input["case"]
        if task.kind == TaskType.DECISION:
            return {"caseOutput": [case]}
        return {"evaluationResult": [case], "selectedCase": case}
