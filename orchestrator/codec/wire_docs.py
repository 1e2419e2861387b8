"""The `doc` of every generated schema field: a table here, plus the trailing comment of the
dataclass field in the domain source. Edit docs HERE (or the dataclass comment), then run
scripts/gen_schemas.py: the .avsc files are generated and hand edits to them are overwritten.

Lookup for a field `f` of record `R`: FIELD_DOCS["R.f"] alone if present; else FIELD_DOCS["f"]
followed by the dataclass field's trailing comment, if any. Enum fields get "One of: ..." appended
and JSON fields "JSON text." so the allowed values are in the schema itself.
"""

from __future__ import annotations

import inspect
import io
import tokenize

FIELD_DOCS: dict[str, str] = {
    # identifiers and routing
    "workflow_id": "Id of the workflow execution this record is about.",
    "task_id": "Id of the task (one attempt of one task); deterministic, derived by the engine.",
    "worker_id": "Id of the worker that reported, if it gave one (Conductor's workerId).",
    "started_at": "When the worker took the task (epoch milliseconds), given only when it did not "
    "acknowledge it with a TaskStarted first (the SDK's deferred acknowledgement of a fast task); "
    "null: any pickup was recorded on its own.",
    "correlation_id": "Conductor's correlationId of the workflow, chosen by its starter.",
    "parent_workflow_id": "Id of the parent workflow when this is a sub-workflow.",
    "parent_task_id": "Id of the parent's SUB_WORKFLOW task when this is a sub-workflow.",
    "child_workflow_id": "Id of the child workflow (SUB_WORKFLOW tasks).",
    "idempotency_key": "Starts with the same key for the same workflow name are deduplicated.",
    "idempotency_strategy": "What a start with an already used idempotency key does.",
    # payloads
    "input": "The workflow's or task's input (a JSON object).",
    "output": "Output data (a JSON object).",
    "variables": "Workflow variables to merge over the current ones (a JSON object).",
    "logs": "Log lines reported by the worker, in order.",
    "reason": "Human-readable reason (Conductor's reasonForIncompletion).",
    "status": "Status.",
    "ReportTaskResult.status": "The worker's verdict: IN_PROGRESS (not done yet), COMPLETED, "
    "FAILED (retried per the TaskDef) or FAILED_WITH_TERMINAL_ERROR (never retried).",
    "UpdateTaskByRef.status": "The task's new status (COMPLETED or FAILED for WAIT / HUMAN).",
    "ChildWorkflowFinished.status": "The child's final status.",
    "TaskFailed.status": "How the task ended: FAILED, TIMED_OUT or FAILED_WITH_TERMINAL_ERROR.",
    "WorkflowFailed.status": "How the workflow ended: FAILED or TIMED_OUT.",
    "StartWorkflow.version": "Version of the workflow definition; null = the latest registered.",
    "StartWorkflow.definition": "An inline workflow definition, as Conductor's WorkflowDef JSON; "
    "wins over (name, version).",
    "RestartWorkflow.definition": "The latest definition, as Conductor's WorkflowDef JSON, if the "
    "edge looked it up (with use_latest_definition).",
    "WorkflowStarted.definition": "The definition this execution runs, as Conductor's WorkflowDef "
    "JSON: embedded, so the log replays without lookups.",
    "WorkflowRestarted.definition": "The definition the new run uses, as Conductor's WorkflowDef "
    "JSON.",
    "VariablesUpdated.variables": "Workflow variables to merge over the current ones (a JSON "
    "object).",
    "TaskScheduled.definition_ref": "Reference name of the WorkflowTask in the definition (no "
    "loop suffix).",
    "TaskDispatch.input_data": "The task's resolved input (a JSON object). `${workflow.secrets.X}` "
    "stays unresolved here: the runtime resolves it when handing the task over, so secrets are "
    "never stored.",
    "definition": "The workflow definition, as Conductor's WorkflowDef JSON.",
    "task_to_domain": "Task name -> domain, for routing tasks to isolated worker pools.",
    "priority": "Workflow priority, 0..99 (higher first).",
    "name": "Name of the workflow definition.",
    "version": "Version of the workflow definition; null = the latest registered.",
    # commands
    "trigger_failure_workflow": "Start the definition's failureWorkflow after terminating.",
    "use_latest_definition": "Restart with the latest version of the definition.",
    "resume_subworkflow_tasks": "Retry the failed sub-workflow in place instead of a new one.",
    "from_task_id": "Id of the task to rerun from; tasks after it are retired.",
    "RerunWorkflow.workflow_input": "New workflow input (a JSON object); JSON null keeps the "
    "current one.",
    "RerunWorkflow.task_input": "New input of the rerun task (replaces it, as Conductor); JSON "
    "null resolves it again.",
    "rerun_child_id": "Set by the engine: the child workflow of task from_task_id was rerun; the "
    "task is reopened in place, waiting for that child.",
    "child_task_id": "Set by the engine: the child workflow of this task was retried; the task "
    "is reopened in place, waiting for that child, and the workflow runs again.",
    "extend_lease": "IN_PROGRESS only: a heartbeat (Conductor's extendLease), the task stays "
    "IN_PROGRESS with its worker and its response timeout starts again; false: a worker task "
    "goes back to SCHEDULED and is handed out again after callback_after_seconds.",
    "retired_task_ids": "Tasks that leave the current view (kept in the history).",
    "retired_listed": "True: retired_task_ids is the whole retired set; false (older logs): the "
    "tasks with seq >= the rerun task's seq are retired.",
    "task_ref": "Reference name of the task (with loop suffix __N inside a DO_WHILE).",
    "kind": "Which deadline fired.",
    "due_at": "When the timer was due.",
    "callback_after_seconds": "Hand the task to its queue again after this many seconds.",
    # events
    "failed_task_id": "Id of the task whose failure failed the workflow.",
    "failure_workflow_id": "Id of the failureWorkflow execution started for this one.",
    "failed_ref_names": "Conductor's failedReferenceTaskNames from this end on: reference names "
    "of the tasks of the run that were FAILED or FAILED_WITH_TERMINAL_ERROR (any attempt), with "
    "those an earlier end recorded (retry and restart keep them), sorted; null in events written "
    "before the field existed.",
    "failed_task_names": "Conductor's failedTaskNames: the task (definition) names of those "
    "tasks, sorted; null in events written before the field existed.",
    "TaskCompletedWithErrors.output": "A JOIN's output (its joinOn tasks' outputs), merged "
    "over the task's; empty for an optional task's accepted failure.",
    "TaskCompletedWithErrors.reason": "A JOIN's reason ('<name>/<task id> ... completed with "
    "errors'); null: the task keeps its reason.",
    "WorkflowCompleted.reason": "A TERMINATE task's reason (terminationReason, or 'Workflow is "
    "COMPLETED by TERMINATE task: <id>'): Conductor sets it on a completed workflow too.",
    "WorkflowTerminated.failed_task_id": "Id of the task that ended the workflow (a TERMINATE "
    "task, or a task canceled by its child's termination), if one did.",
    "ref": "Reference name of the task, with loop suffix __N inside a DO_WHILE.",
    "task_type": "Conductor's taskType: the task name for SIMPLE, the type otherwise.",
    "TaskScheduled.ref": "Reference name of the task, with loop suffix __N inside a DO_WHILE.",
    "TaskScheduled.task_type": "Conductor's taskType: the task name for SIMPLE, the type "
    "otherwise.",
    "TaskScheduled.dispatched": "Whether the task is handed to a worker or system executor "
    "(false for tasks the engine runs inline or that wait for an API update).",
    "TaskScheduled.task_def": "Effective TaskDef of this attempt (retryCount override applied), "
    "as Conductor's TaskDef JSON.",
    "TaskScheduled.dynamic_task": "A task made at run time (not in the definition), as "
    "Conductor's WorkflowTask JSON.",
    "TaskScheduled.container_ref": "For dynamic tasks: reference name of the task whose list "
    "they belong to.",
    "TaskDispatch.task_type": "The queue: the task name for SIMPLE tasks, HTTP / EVENT / "
    "KAFKA_PUBLISH for those system tasks.",
    "TaskScheduled.kind": "The built-in TaskType the task runs as (SIMPLE for worker tasks).",
    "TaskScheduled.name": "Name of the task (its TaskDef).",
    "TaskScheduled.status": "Initial status of the task: SCHEDULED or IN_PROGRESS.",
    "start_delay_ms": "Delay before the task is handed to its queue, in milliseconds.",
    "retry_count": "Attempt number, 0 for the first attempt.",
    "retried_task_id": "Id of the previous attempt this task retries.",
    "iteration": "DO_WHILE iteration the task belongs to (0 outside loops).",
    "optional": "Whether the task is optional (its failure does not fail the workflow).",
    # task dispatch (the fields of a Conductor Task)
    "reference_task_name": "Reference name of the task (with loop suffix).",
    "task_def_name": "Name of the task definition.",
    "workflow_instance_id": "Id of the workflow execution the task belongs to.",
    "root_workflow_id": "Id of the root workflow of the tree (the Kafka key of commands).",
    "workflow_type": "Name of the workflow definition.",
    "workflow_version": "Version of the workflow definition.",
    "poll_count": "How many times the task was handed out.",
    "seq": "Per-workflow sequence number of the event that scheduled the task.",
    "scheduled_time": "When the task was scheduled.",
    "start_delay_in_seconds": "Start delay of the task, in seconds.",
    "response_timeout_seconds": "Report within this many seconds or the task is re-queued.",
    "domain": "Domain of the task queue, if the workflow routes this task to one.",
    "workflow_priority": "Priority of the workflow, 0..99.",
    "timeout_seconds": "Task timeout in seconds (0 = none).",
    "rate_limit_per_frequency": "Tasks handed out per window (0 = no limit).",
    "rate_limit_frequency_in_seconds": "Length of the rate-limit window, in seconds.",
    "concurrent_exec_limit": "Maximum IN_PROGRESS tasks of this name at once.",
}

RECORD_DOCS: dict[str, str] = {
    "WorkflowStarted": "A workflow execution started, with its definition embedded.",
    "WorkflowPaused": "The workflow was paused: no new task is scheduled until resumed.",
    "WorkflowResumed": "A paused workflow was resumed.",
    "WorkflowRetried": "A failed workflow is retried from its failed task(s); its time restarts "
    "the workflow timeout (Conductor's lastRetriedTime).",
    "TaskPostponed": "A worker reported IN_PROGRESS: the task is SCHEDULED again, handed out "
    "after callback_after_seconds (Conductor's updateTask for a worker task).",
    "WorkflowCompleted": "The workflow completed successfully.",
    "WorkflowFailed": "The workflow failed or timed out.",
    "WorkflowTerminated": "The workflow was terminated on request (or by a TERMINATE task).",
    "VariablesUpdated": "Workflow variables changed (SET_VARIABLE).",
    "TaskScheduled": "A task was scheduled (one attempt of one WorkflowTask).",
    "TaskPickedUp": "A worker took the task: SCHEDULED -> IN_PROGRESS.",
    "TaskCompleted": "A task completed successfully.",
    "TaskFailed": "A task failed, timed out or failed with a terminal error.",
    "TaskCanceled": "A task was canceled (its workflow ended or its branch was abandoned).",
    "StartWorkflow": "Start a workflow execution. The one command users produce themselves.",
    "TerminateWorkflow": "Terminate a running or paused workflow.",
    "FailWorkflow": "Fail a workflow the engine cannot keep running (e.g. its state outgrew the limit); sent by the engine itself.",
    "PauseWorkflow": "Pause a running workflow.",
    "ResumeWorkflow": "Resume a paused workflow.",
    "RestartWorkflow": "Restart an ended workflow from the beginning.",
    "RetryWorkflow": "Retry an ended workflow from its failed task(s).",
    "RerunWorkflow": "Rerun an ended workflow from a given task.",
    "SkipTask": "Skip a task that has not been reached yet.",
    "UpdateTaskByRef": "Update a task by reference name (e.g. complete a WAIT or HUMAN task).",
    "TimerFired": "A durable timer is due (sent by the engine's timer loop).",
    "ReportTaskResult": "A worker's result for a task (Conductor's TaskResult).",
}


def field_comments(cls: type) -> dict[str, str]:
    """Trailing `# comment` of each annotated field line in the source of ``cls``."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    comments: dict[int, str] = {}
    names: dict[int, str] = {}
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    previous: tokenize.TokenInfo | None = None
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
        # `name:` at the start of a logical line inside the class body
        if (
            tok.type == tokenize.OP
            and tok.string == ":"
            and previous is not None
            and previous.type == tokenize.NAME
            and previous.line.startswith("    ")
            and previous.line[: previous.start[1]].strip() == ""
        ):
            names[previous.start[0]] = previous.string
        previous = tok
    return {name: comments[line] for line, name in names.items() if line in comments}


def record_doc(cls: type) -> str:
    own = RECORD_DOCS.get(cls.__name__)
    if own:
        return own
    doc = inspect.getdoc(cls) or ""
    first = doc.split("\n\n")[0].replace("\n", " ").strip()
    return first or f"{cls.__name__}."


def field_doc(record: str, name: str, comment: str | None) -> str | None:
    """The doc of ``record.name``, or None if neither the table nor a comment documents it."""
    specific = FIELD_DOCS.get(f"{record}.{name}")
    if specific:
        return specific
    base = FIELD_DOCS.get(name)
    if comment:
        note = comment[0].upper() + comment[1:]
        note = note if note.endswith(".") else note + "."
        return f"{base} {note}" if base else note
    return base
