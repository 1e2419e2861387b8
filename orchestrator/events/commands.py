"""Planned actions -> engine commands, addressed to the workflow tree that owns their target.

A command's Kafka key is the ROOT workflow id (a child's commands go to its root's partition).
``Roots`` finds it: from what the message's headers told (an EVENT task names its own tree),
then from the read model (``workflows``, ``tasks``); a workflow the read model does not know
(yet) is taken to be its own root, as the REST API does. Postgres being down degrades to that
fallback, it never stops the processor.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

import psycopg

from orchestrator.domain import commands as cmd
from orchestrator.domain.event_actions import NotRun, Planned, StartRequest, TaskUpdate

log = logging.getLogger(__name__)
_REMEMBERED = 10_000


class Roots:
    def __init__(self, database_url: str | None) -> None:
        self._url = database_url
        self._conn: Any = None
        self._known: OrderedDict[str, str] = OrderedDict()

    def learn(self, hints: dict[str, str]) -> None:
        for workflow_id, root in hints.items():
            self._remember(workflow_id, root)

    def root_of(self, workflow_id: str) -> str:
        if workflow_id in self._known:
            return self._known[workflow_id]
        row = self._query(
            "SELECT root_workflow_id FROM workflows WHERE workflow_id = %s", workflow_id
        )
        root = str(row[0]) if row and row[0] else workflow_id
        if row:
            self._remember(workflow_id, root)
        return root

    def workflow_of_task(self, task_id: str) -> str | None:
        row = self._query("SELECT workflow_id FROM tasks WHERE task_id = %s", task_id)
        return str(row[0]) if row else None

    def _remember(self, workflow_id: str, root: str) -> None:
        self._known[workflow_id] = root
        self._known.move_to_end(workflow_id)
        while len(self._known) > _REMEMBERED:
            self._known.popitem(last=False)

    def _query(self, sql: str, value: str) -> Any:
        if not self._url:
            return None
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self._url, autocommit=True, connect_timeout=5)
            return self._conn.execute(sql, (value,)).fetchone()
        except psycopg.Error as exc:
            log.warning("event handlers: read model unavailable (%s): own-root fallback", exc)
            self.close()
            return None

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


def command_of(
    planned: Planned, roots: Roots, latest_version: Any, at: int
) -> cmd.Command | NotRun:
    """The command a planned action sends (or why it cannot be sent)."""
    if isinstance(planned, NotRun):
        return planned
    actor = f"event-handler:{planned.handler}"
    if isinstance(planned, StartRequest):
        return cmd.StartWorkflow(
            workflow_id=planned.workflow_id,
            at=at,
            actor=actor,
            name=planned.name,
            version=planned.version
            if planned.version is not None
            else latest_version(planned.name),
            input=planned.input,
            correlation_id=planned.correlation_id,
            task_to_domain=planned.task_to_domain,
        )
    return _task_command(planned, roots, actor, at)


def _task_command(u: TaskUpdate, roots: Roots, actor: str, at: int) -> cmd.Command | NotRun:
    if u.task_id:
        workflow_id = u.workflow_id or roots.workflow_of_task(u.task_id)
        if workflow_id is None:
            reason = f"No task found with taskId: {u.task_id} (not in the read model)"
            return NotRun(u.handler, u.index, _action(u), reason)
        return cmd.ReportTaskResult(
            workflow_id=workflow_id,
            root_workflow_id=roots.root_of(workflow_id),
            at=at,
            actor=actor,
            task_id=u.task_id,
            status=u.status,
            output=u.output,
            reason=u.reason,
        )
    assert u.workflow_id is not None and u.task_ref is not None  # event_actions guarantees it
    return cmd.UpdateTaskByRef(
        workflow_id=u.workflow_id,
        root_workflow_id=roots.root_of(u.workflow_id),
        at=at,
        actor=actor,
        task_ref=u.task_ref,
        status=u.status,
        output=u.output,
        reason=u.reason,
    )


def _action(u: TaskUpdate) -> str:
    return "complete_task" if u.status.value == "COMPLETED" else "fail_task"
