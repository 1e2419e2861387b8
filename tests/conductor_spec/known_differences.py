"""Cases on which this project does not match the real Conductor yet, with the reason.

tests/e2e/test_conductor_specs.py marks each as a strict xfail: fixing one makes that test
XPASS, which fails the run until its line here is removed. Keep docs/conductor-compatibility.md
and the known gaps of docs/adr/0002-engine-state-machine.md in step with this list. The tag in
brackets names who works on it (issue #16): fid-life, fid-fail, fid-events, or "unowned".
"""

from __future__ import annotations

KNOWN_DIFFERENCES: dict[str, str] = {
    "DecisionTaskSpec.decision_leads_to_fork_join": (
        "SWITCH/DECISION stays IN_PROGRESS while its case runs, with no "
        "evaluationResult/caseOutput until then; Conductor completes it at once with the "
        "case's output [fid-life: SWITCH]"
    ),
    "DecisionTaskSpec.default_case": (
        "SWITCH/DECISION stays IN_PROGRESS while its case runs, with no "
        "evaluationResult/caseOutput until then; Conductor completes it at once with the "
        "case's output [fid-life: SWITCH]"
    ),
    "DecisionTaskSpec.nested_one": (
        "SWITCH/DECISION stays IN_PROGRESS while its case runs, with no "
        "evaluationResult/caseOutput until then; Conductor completes it at once with the "
        "case's output [fid-life: SWITCH]"
    ),
    "DecisionTaskSpec.nested_two": (
        "SWITCH/DECISION stays IN_PROGRESS while its case runs, with no "
        "evaluationResult/caseOutput until then; Conductor completes it at once with the "
        "case's output [fid-life: SWITCH]"
    ),
    "DecisionTaskSpec.simple_decision": (
        "SWITCH/DECISION stays IN_PROGRESS while its case runs, with no "
        "evaluationResult/caseOutput until then; Conductor completes it at once with the "
        "case's output [fid-life: SWITCH]"
    ),
    "DecisionTaskSpec.three_case": (
        "SWITCH/DECISION stays IN_PROGRESS while its case runs, with no "
        "evaluationResult/caseOutput until then; Conductor completes it at once with the "
        "case's output [fid-life: SWITCH]"
    ),
    "DoWhileSpec.auto_retry_do_while": (
        "the DO_WHILE task shows iteration 0 (and its tasks' order/iteration differ); "
        "Conductor shows the current iteration from the first one on [fid-life: DO_WHILE "
        "iteration]"
    ),
    "DoWhileSpec.decision_in_loop": (
        "the INLINE task inside the loop fails (and the workflow with it) where Conductor "
        "completes it: the loop's iteration seen by the script differs [fid-life: "
        "DO_WHILE iteration]"
    ),
    "DoWhileSpec.do_while_in_fork": (
        "the DO_WHILE task shows iteration 0 (and its tasks' order/iteration differ); "
        "Conductor shows the current iteration from the first one on [fid-life: DO_WHILE "
        "iteration]"
    ),
    "DoWhileSpec.five_hundred_lambda_iterations": (
        "refused at registration: a LAMBDA task needs 'a registered TaskDef' here (LAMBDA "
        "not known as a system type); Conductor runs it [fid-fail: LAMBDA]"
    ),
    "DoWhileSpec.iteration_counter_at_500": (
        "refused at registration: a LAMBDA task needs 'a registered TaskDef' here (LAMBDA "
        "not known as a system type); Conductor runs it [fid-fail: LAMBDA]"
    ),
    "DoWhileSpec.iteration_in_script": (
        "refused at registration: a LAMBDA task needs 'a registered TaskDef' here (LAMBDA "
        "not known as a system type); Conductor runs it [fid-fail: LAMBDA]"
    ),
    "DoWhileSpec.retry_failed_do_while": (
        "the DO_WHILE stays CANCELED after a retry (and its tasks' iteration is 0); "
        "Conductor reopens the loop IN_PROGRESS at its iteration [fid-life: DO_WHILE "
        "iteration]"
    ),
    "DoWhileSpec.single_iteration": (
        "the DO_WHILE task shows iteration 0 (and its tasks' order/iteration differ); "
        "Conductor shows the current iteration from the first one on [fid-life: DO_WHILE "
        "iteration]"
    ),
    "DoWhileSpec.single_iteration_with_sub_workflow": (
        "the DO_WHILE task shows iteration 0 (and its tasks' order/iteration differ); "
        "Conductor shows the current iteration from the first one on [fid-life: DO_WHILE "
        "iteration]"
    ),
    "DoWhileSpec.two_iterations_of_five_tasks": (
        "refused at registration: a LAMBDA task needs 'a registered TaskDef' here (LAMBDA "
        "not known as a system type); Conductor runs it [fid-fail: LAMBDA]"
    ),
    "DoWhileSpec.two_iterations_of_system_tasks": (
        "refused at registration: a LAMBDA task needs 'a registered TaskDef' here (LAMBDA "
        "not known as a system type); Conductor runs it [fid-fail: LAMBDA]"
    ),
    "DynamicForkJoinSpec.dynamic_fork_empty_output": (
        "the JOIN's output holds every branch, empty ones too ({xdt1: {}, xdt2: {}}); "
        "Conductor's Join adds a branch's output only when it is not empty [lead: JOIN "
        "output]"
    ),
    "DynamicForkJoinSpec.dynamic_fork_invalid_input": (
        "invalid dynamic-fork input: the workflow must fail without a FAILED fork task added "
        "[fid-fail: failure semantics]"
    ),
    "DynamicForkJoinSpec.dynamic_fork_retry": (
        "retry of a workflow that failed in a dynamic fork: the JOIN stays CANCELED and a new"
        " one is added, the retried branch never joins; Conductor reopens the JOIN in place "
        "[fid-life: retry in forks]"
    ),
    "EventTaskSpec.event_task_async_complete": (
        "completing the asyncComplete EVENT task through the API merges the reported output "
        "into the published one (event_produced stays); Conductor replaces the task's output "
        "with the update's [task output on update; unowned]"
    ),
    "ExclusiveJoinSpec.both_true": (
        "SWITCH/DECISION stays IN_PROGRESS while its case runs, with no "
        "evaluationResult/caseOutput until then; Conductor completes it at once with the "
        "case's output [fid-life: SWITCH]"
    ),
    "ExclusiveJoinSpec.first_false_third_default": (
        "SWITCH/DECISION stays IN_PROGRESS while its case runs, with no "
        "evaluationResult/caseOutput until then; Conductor completes it at once with the "
        "case's output [fid-life: SWITCH]"
    ),
    "ExclusiveJoinSpec.first_false_third_true": (
        "SWITCH/DECISION stays IN_PROGRESS while its case runs, with no "
        "evaluationResult/caseOutput until then; Conductor completes it at once with the "
        "case's output [fid-life: SWITCH]"
    ),
    "ExclusiveJoinSpec.one_true_other_null": (
        "SWITCH/DECISION stays IN_PROGRESS while its case runs, with no "
        "evaluationResult/caseOutput until then; Conductor completes it at once with the "
        "case's output [fid-life: SWITCH]"
    ),
    "FailureWorkflowSpec.failure_workflow_after_failed_sub_workflow": (
        "refused at registration: a LAMBDA task needs 'a registered TaskDef' here (LAMBDA "
        "not known as a system type); Conductor runs it [fid-fail: LAMBDA]"
    ),
    "FailureWorkflowSpec.failure_workflow_after_terminate": (
        "refused at registration: a LAMBDA task needs 'a registered TaskDef' here (LAMBDA "
        "not known as a system type); Conductor runs it [fid-fail: LAMBDA]"
    ),
    "ForkJoinSpec.fork_join_optional_sub_workflows": (
        "optional sub-workflows that failed: the JOIN ends COMPLETED and a SUB_WORKFLOW "
        "task stays IN_PROGRESS; Conductor ends both SUB_WORKFLOW tasks and the JOIN "
        "COMPLETED_WITH_ERRORS [fid-fail: COMPLETED_WITH_ERRORS joins]"
    ),
    "ForkJoinSpec.fork_join_permissive_failure": (
        "permissive fork branch: the workflow fails at once (other branch CANCELED) and "
        "workflowTask.permissive is not echoed; Conductor runs the other branch and fails "
        "at the JOIN [fid-fail: permissive]"
    ),
    "ForkJoinSpec.fork_join_permissive_sub_workflows_terminated": (
        "permissive SUB_WORKFLOW branches: terminating the first child ends the parent at "
        "once, so terminating the second is refused (409); Conductor keeps the parent "
        "until the JOIN [fid-fail: permissive]"
    ),
    "ForkJoinSpec.nested_fork_join": (
        "SWITCH/DECISION stays IN_PROGRESS while its case runs, with no "
        "evaluationResult/caseOutput until then; Conductor completes it at once with the "
        "case's output [fid-life: SWITCH]"
    ),
    "ForkJoinSpec.retry_failed_fork_join": (
        "retry of a failed fork: the JOIN that failed stays CANCELED and a new JOIN "
        "attempt is listed; Conductor reopens the same JOIN (IN_PROGRESS) [fid-life: "
        "stuck workflows / retry]"
    ),
    "ForkJoinSpec.retry_failed_permissive_fork_join": (
        "permissive tasks (the workflow runs on and fails at the end) [fid-fail: permissive]"
    ),
    "LambdaAndTerminateTaskSpec.lambda_task": (
        "refused at registration: a LAMBDA task needs 'a registered TaskDef' here (LAMBDA "
        "not known as a system type); Conductor runs it [fid-fail: LAMBDA]"
    ),
    "LambdaAndTerminateTaskSpec.terminate_completed": (
        "refused at registration: a LAMBDA task needs 'a registered TaskDef' here (LAMBDA "
        "not known as a system type); Conductor runs it [fid-fail: LAMBDA]"
    ),
    "LambdaAndTerminateTaskSpec.terminate_failed": (
        "refused at registration: a LAMBDA task needs 'a registered TaskDef' here (LAMBDA "
        "not known as a system type); Conductor runs it [fid-fail: LAMBDA]"
    ),
    "LambdaAndTerminateTaskSpec.terminate_in_decision_branch": (
        "stuck: completing t1 (followed by a DECISION whose case is a TERMINATE with "
        "status FAILED) leaves t1 IN_PROGRESS with no output; Conductor fails the "
        "workflow by the TERMINATE [fid-life: stuck workflows]"
    ),
    "LambdaAndTerminateTaskSpec.terminate_with_sub_workflow": (
        "refused at registration: a LAMBDA task needs 'a registered TaskDef' here (LAMBDA "
        "not known as a system type); Conductor runs it [fid-fail: LAMBDA]"
    ),
    "RetryPolicySpec.exponential_backoff_capped": (
        "the rescheduled attempt shows callbackAfterSeconds 0; Conductor shows the retry "
        "delay there (FIXED/LINEAR/EXPONENTIAL, capped by maxRetryDelaySeconds) "
        "[fid-life: timeouts on retry]"
    ),
    "RetryPolicySpec.jitter_keeps_callback_seconds": (
        "the rescheduled attempt shows callbackAfterSeconds 0; Conductor shows the retry "
        "delay there (FIXED/LINEAR/EXPONENTIAL, capped by maxRetryDelaySeconds) "
        "[fid-life: timeouts on retry]"
    ),
    "RetryPolicySpec.linear_backoff_capped": (
        "the rescheduled attempt shows callbackAfterSeconds 0; Conductor shows the retry "
        "delay there (FIXED/LINEAR/EXPONENTIAL, capped by maxRetryDelaySeconds) "
        "[fid-life: timeouts on retry]"
    ),
    "RetryPolicySpec.total_timeout_exceeded_on_retry": (
        "a failure after totalTimeoutSeconds is spent ends the task and workflow "
        "TIMED_OUT; Conductor keeps the task FAILED and fails the workflow [fid-life: "
        "timeouts on retry]"
    ),
    "SimpleWorkflowSpec.in_progress_without_callback": (
        "a worker's IN_PROGRESS update leaves the task IN_PROGRESS (and its response "
        "time-out running); Conductor puts it back to SCHEDULED (callbackAfterSeconds "
        "shown) and hands it out again after the callback [fid-life: "
        "callbackAfterSeconds]"
    ),
    "SimpleWorkflowSpec.non_restartable": (
        "restart of a FAILED workflow whose definition has restartable=false is refused "
        "(4xx); Conductor refuses only a COMPLETED one [fid-life]"
    ),
    "SimpleWorkflowSpec.reset_callbacks": (
        "POST /api/workflow/{id}/resetcallbacks does not exist (404): the task stays "
        "behind its 3600 s callback [fid-life: callbackAfterSeconds]"
    ),
    "SimpleWorkflowSpec.response_timeout": (
        "a worker's IN_PROGRESS update leaves the task IN_PROGRESS (and its response "
        "time-out running); Conductor puts it back to SCHEDULED (callbackAfterSeconds "
        "shown) and hands it out again after the callback [fid-life: "
        "callbackAfterSeconds]"
    ),
    "SimpleWorkflowSpec.retry_at_workflow_level": (
        "${CPEWF_TASK_ID} does not resolve to the task's own id [fid-fail: CPEWF_TASK_ID]"
    ),
    "SubWorkflowRestartSpec.restart_leaf": (
        "retry/restart of a sub-workflow leaves its FAILED parents FAILED; Conductor "
        "reopens the parent's SUB_WORKFLOW task and the parent (updateAndPushParents), so "
        "every level completes [fid-life: stuck workflows]"
    ),
    "SubWorkflowRestartSpec.restart_mid": (
        "retry/restart of a sub-workflow leaves its FAILED parents FAILED; Conductor "
        "reopens the parent's SUB_WORKFLOW task and the parent (updateAndPushParents), so "
        "every level completes [fid-life: stuck workflows]"
    ),
    "SubWorkflowRetrySpec.retry_leaf": (
        "retry/restart of a sub-workflow leaves its FAILED parents FAILED; Conductor "
        "reopens the parent's SUB_WORKFLOW task and the parent (updateAndPushParents), so "
        "every level completes [fid-life: stuck workflows]"
    ),
    "SubWorkflowRetrySpec.retry_leaf_resume": (
        "retry/restart of a sub-workflow leaves its FAILED parents FAILED; Conductor "
        "reopens the parent's SUB_WORKFLOW task and the parent (updateAndPushParents), so "
        "every level completes [fid-life: stuck workflows]"
    ),
    "SubWorkflowRetrySpec.retry_mid": (
        "retry/restart of a sub-workflow leaves its FAILED parents FAILED; Conductor "
        "reopens the parent's SUB_WORKFLOW task and the parent (updateAndPushParents), so "
        "every level completes [fid-life: stuck workflows]"
    ),
    "SubWorkflowRetrySpec.retry_mid_resume": (
        "retry/restart of a sub-workflow leaves its FAILED parents FAILED; Conductor "
        "reopens the parent's SUB_WORKFLOW task and the parent (updateAndPushParents), so "
        "every level completes [fid-life: stuck workflows]"
    ),
    "SubWorkflowSpec.retry_sub_workflow_after_parent_timed_out": (
        "retry/restart of a sub-workflow leaves its FAILED parents FAILED; Conductor "
        "reopens the parent's SUB_WORKFLOW task and the parent (updateAndPushParents), so "
        "every level completes [fid-life: stuck workflows]; here the parent TIMED_OUT and "
        "stays so"
    ),
    "SwitchTaskSpec.default_case": (
        "SWITCH/DECISION stays IN_PROGRESS while its case runs, with no "
        "evaluationResult/caseOutput until then; Conductor completes it at once with the "
        "case's output [fid-life: SWITCH]"
    ),
    "SwitchTaskSpec.nested_one": (
        "SWITCH/DECISION stays IN_PROGRESS while its case runs, with no "
        "evaluationResult/caseOutput until then; Conductor completes it at once with the "
        "case's output [fid-life: SWITCH]"
    ),
    "SwitchTaskSpec.nested_two": (
        "SWITCH/DECISION stays IN_PROGRESS while its case runs, with no "
        "evaluationResult/caseOutput until then; Conductor completes it at once with the "
        "case's output [fid-life: SWITCH]"
    ),
    "SwitchTaskSpec.simple_switch": (
        "SWITCH/DECISION stays IN_PROGRESS while its case runs, with no "
        "evaluationResult/caseOutput until then; Conductor completes it at once with the "
        "case's output [fid-life: SWITCH]"
    ),
    "SwitchTaskSpec.switch_leads_to_fork_join": (
        "SWITCH/DECISION stays IN_PROGRESS while its case runs, with no "
        "evaluationResult/caseOutput until then; Conductor completes it at once with the "
        "case's output [fid-life: SWITCH]"
    ),
    "SwitchTaskSpec.three_case": (
        "SWITCH/DECISION stays IN_PROGRESS while its case runs, with no "
        "evaluationResult/caseOutput until then; Conductor completes it at once with the "
        "case's output [fid-life: SWITCH]"
    ),
    "WorkflowAndTaskConfigurationSpec.callback_after_seconds": (
        "a worker's IN_PROGRESS update leaves the task IN_PROGRESS (and its response "
        "time-out running); Conductor puts it back to SCHEDULED (callbackAfterSeconds "
        "shown) and hands it out again after the callback [fid-life: "
        "callbackAfterSeconds]"
    ),
    "WorkflowAndTaskConfigurationSpec.permissive_task": (
        "permissive tasks (the workflow runs on and fails at the end) [fid-fail: permissive]"
    ),
    "WorkflowAndTaskConfigurationSpec.retry_timed_out_workflow": (
        "retry of a workflow that TIMED_OUT (workflow timeout) is refused or does nothing "
        "(status stays TIMED_OUT, no lastRetriedTime); Conductor retries the canceled "
        "task, or schedules the next one when none failed [fid-life: timeouts on retry]"
    ),
    "WorkflowAndTaskConfigurationSpec.retry_timed_out_workflow_without_failed_tasks": (
        "retry of a workflow that TIMED_OUT (workflow timeout) is refused or does nothing "
        "(status stays TIMED_OUT, no lastRetriedTime); Conductor retries the canceled "
        "task, or schedules the next one when none failed [fid-life: timeouts on retry]"
    ),
    "WorkflowAndTaskConfigurationSpec.skip_task": (
        "the SKIPPED task is listed after t1; Conductor lists it first (it is added to "
        "the workflow when skipped, t1's record is rewritten later) [fid-life]"
    ),
    "WorkflowAndTaskConfigurationSpec.wait_task_timeout": (
        "a WAIT task whose TaskDef has timeoutSeconds 2 (RETRY) never times out; "
        "Conductor times it out and schedules a new WAIT attempt [fid-life: timeouts]"
    ),
}
