"""The SQL of every row operation the handlers emit, by name (see handlers.py).

Every UPDATE is guarded by the sequence number of the event that causes it
(``last_seq < seq`` on workflows, ``last_event_seq < seq`` on tasks), so an event is never
applied over a newer one. The projector additionally applies an event's operations only when its
``events`` row was new, which is what makes a re-applied batch change nothing (ADR 0005).
"""

from __future__ import annotations

_TASK_GUARD = "WHERE task_id = %(task_id)s AND last_event_seq < %(seq)s"
_WORKFLOW_GUARD = "WHERE workflow_id = %(workflow_id)s AND last_seq < %(seq)s"

_RUNNING_AGAIN = """
    status = 'RUNNING', reason = NULL, end_time = NULL, failed_task_id = NULL,
    failure_workflow_id = NULL, output = '{}',
    last_seq = %(seq)s, update_time = %(at)s"""
# Retry and restart keep the failed task names an end event recorded (failed_task_names not
# NULL); names of the older rule (the failed task's reference) are cleared, as they were.
_REOPEN = f"""{_RUNNING_AGAIN},
    failed_ref_names = CASE WHEN failed_task_names IS NULL THEN '{{}}' ELSE failed_ref_names END"""
# A rerun clears them.
_RERUN = f"{_RUNNING_AGAIN}, failed_ref_names = '{{}}', failed_task_names = NULL"
# An end event's names; NULL in events older than them: the names stay as they are.
_NAMES = """
    failed_ref_names = COALESCE(%(failed_ref_names)s, failed_ref_names),
    failed_task_names = COALESCE(%(failed_task_names)s, failed_task_names)"""

SQL: dict[str, str] = {
    "workflow_insert": """
        INSERT INTO workflows (
            workflow_id, root_workflow_id, parent_workflow_id, parent_task_id, workflow_type,
            version, status, correlation_id, priority, idempotency_key, input, variables,
            task_to_domain, definition, create_time, start_time, update_time, last_seq)
        VALUES (
            %(workflow_id)s, %(root_workflow_id)s, %(parent_workflow_id)s, %(parent_task_id)s,
            %(workflow_type)s, %(version)s, 'RUNNING', %(correlation_id)s, %(priority)s,
            %(idempotency_key)s, %(input)s, %(variables)s, %(task_to_domain)s, %(definition)s,
            %(at)s, %(at)s, %(at)s, %(seq)s)
        ON CONFLICT (workflow_id) DO NOTHING""",
    "workflow_restart": f"""
        UPDATE workflows SET {_REOPEN}, definition = %(definition)s,
            workflow_type = %(workflow_type)s, version = %(version)s, input = %(input)s,
            correlation_id = %(correlation_id)s, variables = %(variables)s,
            generation = generation + 1, start_time = %(at)s
        {_WORKFLOW_GUARD}""",
    "workflow_retried": f"""
        UPDATE workflows SET {_REOPEN}, last_retried_time = %(at)s {_WORKFLOW_GUARD}""",
    "workflow_rerun": f"""
        UPDATE workflows SET {_RERUN}, input = %(input)s, generation = generation + 1
        {_WORKFLOW_GUARD}""",
    "workflow_status": f"""
        UPDATE workflows SET status = %(status)s, last_seq = %(seq)s, update_time = %(at)s
        {_WORKFLOW_GUARD}""",
    "workflow_completed": f"""
        UPDATE workflows SET status = 'COMPLETED', output = %(output)s, end_time = %(at)s,
            reason = %(reason)s, {_NAMES}, last_seq = %(seq)s, update_time = %(at)s
        {_WORKFLOW_GUARD}""",
    # Older events (no names): the failed task's reference, the rule of their time.
    "workflow_failed": f"""
        UPDATE workflows SET status = %(status)s, reason = %(reason)s, output = %(output)s,
            end_time = %(at)s, failed_task_id = %(failed_task_id)s,
            failure_workflow_id = %(failure_workflow_id)s,
            failed_ref_names = COALESCE(%(failed_ref_names)s,
                ARRAY(SELECT ref FROM tasks WHERE task_id = %(failed_task_id)s)),
            failed_task_names = %(failed_task_names)s,
            last_seq = %(seq)s, update_time = %(at)s
        {_WORKFLOW_GUARD}""",
    "workflow_terminated": f"""
        UPDATE workflows SET status = 'TERMINATED', reason = %(reason)s, output = %(output)s,
            end_time = %(at)s, failure_workflow_id = %(failure_workflow_id)s,
            failed_task_id = COALESCE(%(failed_task_id)s, failed_task_id), {_NAMES},
            last_seq = %(seq)s, update_time = %(at)s
        {_WORKFLOW_GUARD}""",
    "workflow_variables": f"""
        UPDATE workflows SET variables = variables || %(variables)s,
            last_seq = %(seq)s, update_time = %(at)s
        {_WORKFLOW_GUARD}""",
    # The last event of a batch for a workflow: its seq and time (task events change no other
    # workflow column, so one touch per workflow and batch is enough).
    "workflow_touch": """
        UPDATE workflows SET last_seq = %(seq)s, update_time = GREATEST(update_time, %(at)s)
        WHERE workflow_id = %(workflow_id)s AND last_seq < %(seq)s""",
    "task_count_increment": """
        UPDATE workflows SET task_count = task_count + 1 WHERE workflow_id = %(workflow_id)s""",
    "task_insert": """
        INSERT INTO tasks (
            task_id, workflow_id, ref, definition_ref, name, task_type, kind, status, input,
            retry_count, retried_task_id, iteration, optional, dispatched, start_delay_ms,
            child_workflow_id, task_def, workflow_task, scheduled_time, start_time, update_time,
            seq, generation, last_event_seq)
        VALUES (
            %(task_id)s, %(workflow_id)s, %(ref)s, %(definition_ref)s, %(name)s, %(task_type)s,
            %(kind)s, %(status)s, %(input)s, %(retry_count)s, %(retried_task_id)s,
            %(iteration)s, %(optional)s, %(dispatched)s, %(start_delay_ms)s,
            %(child_workflow_id)s, %(task_def)s, %(workflow_task)s, %(at)s, %(start_time)s,
            %(at)s,
            COALESCE((SELECT task_count FROM workflows WHERE workflow_id = %(workflow_id)s), 0),
            COALESCE((SELECT generation FROM workflows WHERE workflow_id = %(workflow_id)s), 0),
            %(seq)s)
        ON CONFLICT (task_id) DO NOTHING""",
    "task_mark_retried": """
        UPDATE tasks SET retried = true WHERE task_id = %(retried_task_id)s""",
    "task_picked_up": f"""
        UPDATE tasks SET status = 'IN_PROGRESS', poll_count = poll_count + 1,
            start_time = COALESCE(start_time, %(at)s), update_time = %(at)s,
            worker_id = %(worker_id)s, callback_after_seconds = 0, last_event_seq = %(seq)s
        {_TASK_GUARD}""",
    "task_progressed": f"""
        UPDATE tasks SET status = 'IN_PROGRESS', poll_count = GREATEST(poll_count, 1),
            start_time = COALESCE(start_time, %(started_at)s, %(at)s), update_time = %(at)s,
            output = output || %(output)s, logs = logs || %(logs)s,
            callback_after_seconds = %(callback_after_seconds)s,
            reason = CASE WHEN end_time IS NULL THEN reason END, end_time = NULL,
            worker_id = COALESCE(%(worker_id)s, worker_id), last_event_seq = %(seq)s
        {_TASK_GUARD}""",
    "task_postponed": f"""
        UPDATE tasks SET status = 'SCHEDULED', poll_count = GREATEST(poll_count, 1),
            start_time = COALESCE(start_time, %(started_at)s, %(at)s), update_time = %(at)s,
            output = output || %(output)s, logs = logs || %(logs)s,
            callback_after_seconds = %(callback_after_seconds)s,
            worker_id = COALESCE(%(worker_id)s, worker_id), last_event_seq = %(seq)s
        {_TASK_GUARD}""",
    "task_completed": f"""
        UPDATE tasks SET status = 'COMPLETED', output = output || %(output)s,
            logs = logs || %(logs)s, start_time = COALESCE(start_time, %(started_at)s, %(at)s),
            update_time = %(at)s, end_time = %(at)s,
            worker_id = COALESCE(%(worker_id)s, worker_id),
            poll_count = GREATEST(poll_count, CASE WHEN dispatched THEN 1 ELSE 0 END),
            last_event_seq = %(seq)s
        {_TASK_GUARD}""",
    "task_failed": f"""
        UPDATE tasks SET status = %(status)s, reason = %(reason)s, output = output || %(output)s,
            logs = logs || %(logs)s, start_time = COALESCE(start_time, %(started_at)s),
            update_time = %(at)s, end_time = %(at)s,
            worker_id = COALESCE(%(worker_id)s, worker_id), last_event_seq = %(seq)s
        {_TASK_GUARD}""",
    # An optional task's failure accepted (reason None: its own stays), or a JOIN over such
    # tasks ending (its output and reason).
    "task_completed_with_errors": f"""
        UPDATE tasks SET status = 'COMPLETED_WITH_ERRORS', output = output || %(output)s,
            reason = COALESCE(%(reason)s, reason), update_time = %(at)s,
            end_time = COALESCE(end_time, %(at)s), last_event_seq = %(seq)s
        {_TASK_GUARD}""",
    "task_status": f"""
        UPDATE tasks SET status = %(status)s, reason = COALESCE(%(reason)s, reason),
            update_time = %(at)s, end_time = COALESCE(end_time, %(at)s),
            last_event_seq = %(seq)s
        {_TASK_GUARD}""",
    # A skipped task was never scheduled: its name comes from the definition the workflow runs.
    "task_skipped": """
        INSERT INTO tasks (
            task_id, workflow_id, ref, definition_ref, name, task_type, kind, status, input,
            output, dispatched, scheduled_time, update_time, end_time, seq, generation,
            last_event_seq)
        SELECT %(task_id)s, w.workflow_id, %(ref)s, %(definition_ref)s, n.name, n.name, 'SIMPLE',
            'SKIPPED', %(input)s, %(output)s, false, %(at)s, %(at)s, %(at)s, w.task_count,
            w.generation, %(seq)s
        FROM workflows w
        CROSS JOIN LATERAL (SELECT COALESCE(
            jsonb_path_query_first(w.definition, '$.** ? (@.taskReferenceName == $r).name',
                jsonb_build_object('r', %(ref)s::text)) #>> '{}',
            jsonb_path_query_first(w.definition, '$.** ? (@.taskReferenceName == $r).name',
                jsonb_build_object('r', %(definition_ref)s::text)) #>> '{}',
            %(ref)s) AS name) n
        WHERE w.workflow_id = %(workflow_id)s
        ON CONFLICT (task_id) DO NOTHING""",
    # Restart: every task of the earlier generations leaves the current view (kept as history).
    "tasks_retire_all": """
        UPDATE tasks SET retired = true WHERE workflow_id = %(workflow_id)s AND NOT retired""",
    # Rerun: the tasks the event lists leave the current view.
    "tasks_retire_ids": """
        UPDATE tasks SET retired = true
        WHERE workflow_id = %(workflow_id)s AND NOT retired AND task_id = ANY(%(task_ids)s)""",
    # Rerun in logs older than the list: tasks scheduled at or after the rerun task.
    "tasks_retire_from": """
        UPDATE tasks SET retired = true
        WHERE workflow_id = %(workflow_id)s AND NOT retired
          AND seq >= (SELECT seq FROM tasks WHERE task_id = %(from_task_id)s)""",
    "definition_upsert": """
        INSERT INTO definitions (kind, name, version, body, registered_at, actor)
        VALUES (%(kind)s, %(name)s, %(version)s, %(body)s, %(registered_at)s, %(actor)s)
        ON CONFLICT (kind, name, version) DO UPDATE
            SET body = EXCLUDED.body, registered_at = EXCLUDED.registered_at,
                actor = EXCLUDED.actor
            WHERE definitions.registered_at <= EXCLUDED.registered_at""",
    "definition_delete": """
        DELETE FROM definitions
        WHERE kind = %(kind)s AND name = %(name)s AND version = %(version)s""",
}
