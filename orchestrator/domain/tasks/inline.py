"""System tasks evaluated inline by the engine: NOOP, SET_VARIABLE, INLINE, LAMBDA,
JSON_JQ_TRANSFORM, TERMINATE. They complete (or fail) within the decision that reached them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.domain.definitions import JSON, TaskType, WorkflowTask
from orchestrator.domain.events import VariablesUpdated
from orchestrator.domain.permissive import permissive_reason
from orchestrator.domain.ports import ScriptError
from orchestrator.domain.statuses import WorkflowStatus
from orchestrator.domain.tasks.common import BaseHandler, InlineHandler, TaskError

if TYPE_CHECKING:
    from orchestrator.domain.cascade import Cascade
    from orchestrator.domain.state import TaskState


class NoopHandler(InlineHandler):
    kinds: tuple[TaskType, ...] = (TaskType.NOOP,)


class SetVariableHandler(InlineHandler):
    kinds: tuple[TaskType, ...] = (TaskType.SET_VARIABLE,)

    def evaluate(self, c: Cascade, task: TaskState, wt: WorkflowTask) -> JSON:
        if not isinstance(task.input, dict):
            raise TaskError("SET_VARIABLE input must be an object")
        c.emit(VariablesUpdated, variables=task.input)
        return {}


def _input(task: TaskState) -> dict[str, JSON]:
    return task.input if isinstance(task.input, dict) else {}


def evaluate_script(c: Cascade, evaluator: str | None, expression: str | None, value: JSON) -> JSON:
    """Conductor's evaluators: `value-param` reads an input key; javascript/graaljs run the
    ScriptEvaluator's JavaScript (QuickJS) with `$` bound to the task input."""
    if expression is None:
        raise TaskError("no expression")
    if evaluator == "value-param":
        return value.get(expression) if isinstance(value, dict) else None
    if evaluator in ("javascript", "graaljs"):
        try:
            # the port binds `$` to the bindings themselves (adapters/scripting.py)
            return c.ctx.scripts.evaluate_js(expression, value if isinstance(value, dict) else {})
        except ScriptError as error:
            raise TaskError(str(error)) from error
    raise TaskError(f"unknown evaluatorType {evaluator!r}")


class InlineScriptHandler(InlineHandler):
    kinds: tuple[TaskType, ...] = (TaskType.INLINE,)

    def evaluate(self, c: Cascade, task: TaskState, wt: WorkflowTask) -> JSON:
        params = _input(task)
        evaluator = params.get("evaluatorType", wt.evaluator_type) or "javascript"
        expression = params.get("expression", wt.expression)
        try:
            result = evaluate_script(c, str(evaluator), expression, params)
        except TaskError as error:
            raise TaskError(str(error), {"error": str(error)}) from error
        return {"result": result}


LAMBDA_SCRIPT = "scriptExpression"
EMPTY_LAMBDA = (
    "Empty 'scriptExpression' in Lambda task's input parameters. "
    "A non-empty String value must be provided."
)


class LambdaHandler(InlineHandler):
    """Conductor's LAMBDA (deprecated there in favour of INLINE): `scriptExpression` is the body
    of a JavaScript function (`function scriptFun(){...} scriptFun();`, as Conductor wraps it),
    `$` is the whole task input, the output is `result`; a script error fails the task (FAILED,
    so retried per its TaskDef) with `error` in the output."""

    kinds: tuple[TaskType, ...] = (TaskType.LAMBDA,)

    def evaluate(self, c: Cascade, task: TaskState, wt: WorkflowTask) -> JSON:
        params = _input(task)
        script = params.get(LAMBDA_SCRIPT)
        if not isinstance(script, str) or not script.strip():
            raise TaskError(EMPTY_LAMBDA)
        try:
            result = evaluate_script(
                c, "javascript", "function scriptFun(){" + script + "} scriptFun();", params
            )
        except TaskError as error:
            raise TaskError(str(error), {"error": str(error)}) from error
        return {"result": result}


class JsonJqHandler(InlineHandler):
    kinds: tuple[TaskType, ...] = (TaskType.JSON_JQ_TRANSFORM,)

    def evaluate(self, c: Cascade, task: TaskState, wt: WorkflowTask) -> JSON:
        params = _input(task)
        query = params.get("queryExpression")
        if not isinstance(query, str):
            raise TaskError("queryExpression is missing", {"error": "queryExpression is missing"})
        try:
            results = c.ctx.scripts.evaluate_jq(query, params)
        except ScriptError as error:
            raise TaskError(str(error), {"error": str(error)}) from error
        # Conductor's JsonJqTransform: `result` is the first value, `resultList` all of them.
        return {"result": results[0] if results else None, "resultList": results}


_TERMINATION = {
    "COMPLETED": WorkflowStatus.COMPLETED,
    "FAILED": WorkflowStatus.FAILED,
    "TERMINATED": WorkflowStatus.TERMINATED,
}


class TerminateHandler(BaseHandler):
    kinds: tuple[TaskType, ...] = (TaskType.TERMINATE,)

    def start(self, c: Cascade, task: TaskState, wt: WorkflowTask) -> None:
        params = _input(task)
        status = _TERMINATION.get(str(params.get("terminationStatus", "")).upper())
        if status is None:
            c.fail(task.task_id, f"invalid terminationStatus {params.get('terminationStatus')!r}")
            return
        output = termination_output(params.get("workflowOutput"))
        # Conductor's endExecution: its reason, also on a COMPLETED workflow; the failure
        # workflow starts for FAILED and TERMINATED alike, with this task as failureTaskId.
        reason = str(params.get("terminationReason") or "").strip() or (
            f"Workflow is {status} by TERMINATE task: {task.task_id}"
        )
        c.complete(task.task_id, output, settle=False)
        permissive = permissive_reason(c.state)
        if permissive is not None:  # Conductor: permissive failures win over any TERMINATE
            c.end_workflow(WorkflowStatus.FAILED, permissive, output=output)
            return
        c.end_workflow(
            status,
            reason,
            output=output,
            failed_task=c.state.tasks[task.task_id],
        )


def termination_output(value: JSON) -> dict[str, JSON]:
    """Conductor's Terminate.getInputFromParam: a map is the output, any other value is
    wrapped as `{"output": value}`, a missing one gives `{}`."""
    if value is None:
        return {}
    return dict(value) if isinstance(value, dict) else {"output": value}
