"""Per-task-type rules of a workflow definition (Conductor's WorkflowTaskTypeConstraint & co).

Each rule gets the task, its path, the task list it sits in (for "FORK must be followed by a
JOIN"), the set of all reference names of the workflow and the registered TaskDefs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from orchestrator.domain.definitions import TaskDef, TaskType, WorkflowTask, effective_type
from orchestrator.domain.durations import parse_duration_ms, parse_until_ms
from orchestrator.domain.problems import Problem, key_path

JSON = Any
TaskDefs = Callable[[str], TaskDef | None]
EVALUATOR_TYPES = ("value-param", "javascript", "graaljs")
TERMINATION_STATUSES = ("COMPLETED", "FAILED", "TERMINATED")


class _Rules:
    def __init__(
        self,
        task: WorkflowTask,
        path: str,
        siblings: tuple[WorkflowTask, ...],
        index: int,
        refs: set[str],
        task_defs: TaskDefs,
    ) -> None:
        self.t, self.path, self.siblings, self.index = task, path, siblings, index
        self.refs, self.task_defs = refs, task_defs
        self.out: list[Problem] = []
        self.kind = effective_type(task)

    def add(self, message: str, field: str | None = None) -> None:
        # ``field`` is ours (e.g. "joinOn[1]", "subWorkflowParam.name"): appended as is.
        self.out.append(Problem(f"{self.path}.{field}" if field else self.path, message))

    def needs(self, field: str, present: bool, what: str | None = None) -> None:
        if not present:
            self.add(f"{what or field} is required for a {self.t.type} task", field)

    def input_path(self, key: str) -> str:
        return key_path(key_path(self.path, "inputParameters"), key)

    def has_input(self, key: str) -> bool:
        value = self.t.input_parameters.get(key)
        return value is not None and value != ""

    def template_has(self, key: str) -> bool:
        td = self.t.task_definition or self.task_defs(self.t.name)
        return td is not None and key in td.input_template


def task_rules(
    task: WorkflowTask,
    path: str,
    siblings: tuple[WorkflowTask, ...],
    index: int,
    refs: set[str],
    task_defs: TaskDefs,
) -> list[Problem]:
    r = _Rules(task, path, siblings, index, refs, task_defs)
    _common(r)
    check = _BY_TYPE.get(r.kind)
    if check is not None:
        check(r)
    return r.out


def _common(r: _Rules) -> None:
    if r.t.start_delay < 0:
        r.add(f"startDelay must be >= 0, got {r.t.start_delay}", "startDelay")
    if r.t.retry_count is not None and r.t.retry_count < 0:
        r.add(f"retryCount must be >= 0, got {r.t.retry_count}", "retryCount")
    # A SIMPLE task without a registered TaskDef runs under the default one, as in Conductor
    # (inputs.effective_task_def): not a registration error.


def _fork(r: _Rules) -> None:
    if not r.t.fork_tasks:
        r.add("forkTasks must have at least one branch", "forkTasks")
    for b, branch in enumerate(r.t.fork_tasks):
        if not branch:
            r.add("a fork branch must have at least one task", f"forkTasks[{b}]")
    _followed_by_join(r)


def _followed_by_join(r: _Rules) -> None:
    following = r.siblings[r.index + 1] if r.index + 1 < len(r.siblings) else None
    if following is None or effective_type(following) is not TaskType.JOIN:
        r.add(f"{r.t.type} {r.t.task_reference_name!r} must be immediately followed by a JOIN task")


def _dynamic_fork(r: _Rules) -> None:
    simple = r.has_input("forkTaskInputs") and (
        r.has_input("forkTaskName") or r.has_input("forkTaskWorkflow")
    )
    classic = r.t.dynamic_fork_tasks_param and r.t.dynamic_fork_tasks_input_param_name
    if not simple and not classic:
        r.add(
            "FORK_JOIN_DYNAMIC needs dynamicForkTasksParam and dynamicForkTasksInputParamName, "
            "or inputParameters forkTaskName (or forkTaskWorkflow) and forkTaskInputs"
        )
    _followed_by_join(r)


def _joins(r: _Rules) -> None:
    for field, refs in (
        ("joinOn", r.t.join_on),
        ("defaultExclusiveJoinTask", r.t.default_exclusive_join_task),
    ):
        for i, ref in enumerate(refs):
            if ref not in r.refs:
                r.add(
                    f"{field} names {ref!r}, which is not a task of this workflow", f"{field}[{i}]"
                )


def _evaluator(r: _Rules, value: JSON, field: str, path_field: str | None) -> None:
    if isinstance(value, str) and "${" not in value and value not in EVALUATOR_TYPES:
        message = f"unknown evaluatorType {value!r}: expected one of {', '.join(EVALUATOR_TYPES)}"
        if path_field is None:
            r.out.append(Problem(r.input_path(field), message))
        else:
            r.add(message, path_field)


def _switch(r: _Rules) -> None:
    r.needs("evaluatorType", bool(r.t.evaluator_type))
    r.needs("expression", bool(r.t.expression))
    _evaluator(r, r.t.evaluator_type, "evaluatorType", "evaluatorType")
    _has_cases(r)


def _has_cases(r: _Rules) -> None:
    if not r.t.decision_cases:
        r.add(f"decisionCases must have at least one case for a {r.t.type} task", "decisionCases")


def _decision(r: _Rules) -> None:
    r.needs(
        "caseValueParam",
        bool(r.t.case_value_param or r.t.case_expression),
        "caseValueParam or caseExpression",
    )
    _has_cases(r)


def _do_while(r: _Rules) -> None:
    r.needs("loopCondition", bool(r.t.loop_condition))
    if not r.t.loop_over:
        r.add("loopOver must have at least one task", "loopOver")
    for inner, inner_path in _nested(r.t.loop_over, key_path(r.path, "loopOver")):
        if effective_type(inner) is TaskType.DO_WHILE:
            r.out.append(
                Problem(
                    inner_path,
                    "a DO_WHILE inside a DO_WHILE is not supported; "
                    "put the inner loop in a SUB_WORKFLOW",
                )
            )


def _nested(tasks: tuple[WorkflowTask, ...], path: str) -> Iterator[tuple[WorkflowTask, str]]:
    for i, task in enumerate(tasks):
        here = f"{path}[{i}]"
        yield task, here
        for case, branch in task.decision_cases.items():
            yield from _nested(branch, key_path(key_path(here, "decisionCases"), case))
        yield from _nested(task.default_case, key_path(here, "defaultCase"))
        for b, branch in enumerate(task.fork_tasks):
            yield from _nested(branch, f"{key_path(here, 'forkTasks')}[{b}]")
        # loops nested deeper are reported by their own enclosing DO_WHILE


def _sub_workflow(r: _Rules) -> None:
    sub = r.t.sub_workflow_param
    if sub is None:
        r.add("subWorkflowParam is required for a SUB_WORKFLOW task", "subWorkflowParam")
        return
    here = "subWorkflowParam"
    if not sub.name and sub.workflow_definition is None:
        r.add("subWorkflowParam needs a name or an inline workflowDefinition", f"{here}.name")
    if sub.version is not None and sub.version < 1:
        r.add(f"version must be >= 1, got {sub.version}", f"{here}.version")


def _dynamic(r: _Rules) -> None:
    r.needs("dynamicTaskNameParam", bool(r.t.dynamic_task_name_param))


def _inline(r: _Rules) -> None:
    for key in ("evaluatorType", "expression"):
        if not r.has_input(key):
            r.out.append(
                Problem(r.input_path(key), f"inputParameters.{key} is required for an INLINE task")
            )
    _evaluator(r, r.t.input_parameters.get("evaluatorType"), "evaluatorType", None)


def _lambda(r: _Rules) -> None:
    script = r.t.input_parameters.get("scriptExpression")
    if not isinstance(script, str) or not script.strip():
        what = "is required" if script is None else "must be a non-empty string"
        r.out.append(
            Problem(
                r.input_path("scriptExpression"),
                f"inputParameters.scriptExpression {what} for a LAMBDA task "
                "(the body of a JavaScript function; `$` is the task input)",
            )
        )


def _jq(r: _Rules) -> None:
    if not (r.has_input("queryExpression") or r.template_has("queryExpression")):
        r.out.append(
            Problem(
                r.input_path("queryExpression"),
                "inputParameters.queryExpression is required for a JSON_JQ_TRANSFORM task",
            )
        )


def _terminate(r: _Rules) -> None:
    status = r.t.input_parameters.get("terminationStatus")
    expression = isinstance(status, str) and "${" in status
    if status not in TERMINATION_STATUSES and not expression:
        r.out.append(
            Problem(
                r.input_path("terminationStatus"),
                f"terminationStatus must be one of {', '.join(TERMINATION_STATUSES)}, "
                f"got {status!r}",
            )
        )
    if r.t.optional:
        r.add("a TERMINATE task cannot be optional", "optional")


def _http(r: _Rules) -> None:
    request = r.t.input_parameters.get("http_request")
    if isinstance(request, dict):
        for key in ("uri", "method"):
            if not request.get(key):
                r.out.append(
                    Problem(
                        key_path(r.input_path("http_request"), key),
                        f"http_request.{key} is required",
                    )
                )
    elif isinstance(request, str) and "${" in request:
        return  # given at run time
    elif request is not None:
        r.out.append(Problem(r.input_path("http_request"), "http_request must be an object"))
    elif not (r.has_input("uri") or r.template_has("http_request")):
        r.out.append(
            Problem(
                r.input_path("http_request"),
                "inputParameters.http_request (with uri and method) is required for an HTTP task",
            )
        )


def _wait(r: _Rules) -> None:
    duration, until = r.t.input_parameters.get("duration"), r.t.input_parameters.get("until")
    if _given(duration) and _given(until):
        r.add("a WAIT task takes either duration or until, not both", "inputParameters")
    for key, value, parse in (
        ("duration", duration, parse_duration_ms),
        ("until", until, parse_until_ms),
    ):
        if not _given(value):
            continue
        if not isinstance(value, str):
            r.out.append(Problem(r.input_path(key), f"{key} must be a string"))
        elif "${" not in value:  # an expression is checked when the task runs
            try:
                parse(value)
            except ValueError as e:
                r.out.append(Problem(r.input_path(key), str(e)))


def _given(value: JSON) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _event(r: _Rules) -> None:
    r.needs("sink", bool(r.t.sink))


def _kafka(r: _Rules) -> None:
    if not (r.has_input("kafka_request") or r.template_has("kafka_request")):
        r.out.append(
            Problem(
                r.input_path("kafka_request"),
                "inputParameters.kafka_request is required for a KAFKA_PUBLISH task",
            )
        )


def _start_workflow(r: _Rules) -> None:
    request = r.t.input_parameters.get("startWorkflow")
    if isinstance(request, dict):
        if not request.get("name"):
            r.out.append(
                Problem(
                    key_path(r.input_path("startWorkflow"), "name"),
                    "startWorkflow.name is required",
                )
            )
    elif not (isinstance(request, str) and "${" in request):
        r.out.append(
            Problem(
                r.input_path("startWorkflow"),
                "inputParameters.startWorkflow (with name) is required for a START_WORKFLOW task",
            )
        )


_BY_TYPE: dict[TaskType, Callable[[_Rules], None]] = {
    TaskType.FORK_JOIN: _fork,
    TaskType.FORK_JOIN_DYNAMIC: _dynamic_fork,
    TaskType.JOIN: _joins,
    TaskType.EXCLUSIVE_JOIN: _joins,
    TaskType.SWITCH: _switch,
    TaskType.DECISION: _decision,
    TaskType.DO_WHILE: _do_while,
    TaskType.SUB_WORKFLOW: _sub_workflow,
    TaskType.DYNAMIC: _dynamic,
    TaskType.INLINE: _inline,
    TaskType.LAMBDA: _lambda,
    TaskType.JSON_JQ_TRANSFORM: _jq,
    TaskType.TERMINATE: _terminate,
    TaskType.HTTP: _http,
    TaskType.WAIT: _wait,
    TaskType.EVENT: _event,
    TaskType.KAFKA_PUBLISH: _kafka,
    TaskType.START_WORKFLOW: _start_workflow,
}
