"""The searchable (and sortable) fields: Conductor's names -> trusted SQL column expressions.

Only the column expressions written here ever reach the SQL text; every value a user types
becomes a bound parameter (sql.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from orchestrator.domain.statuses import TaskStatus, WorkflowStatus


class FieldType(Enum):
    TEXT = "text"
    STATUS = "status"  # text restricted to a set of statuses
    INT = "integer"
    TIME = "time (epoch milliseconds)"

    @property
    def numeric(self) -> bool:
        return self in (FieldType.INT, FieldType.TIME)


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    column: str
    type: FieldType
    statuses: frozenset[str] = frozenset()
    # NULLs sort last either way; said only for nullable columns, since "DESC NULLS LAST" on a
    # NOT NULL column would stop Postgres from reading the (DESC = NULLS FIRST) index in order.
    nullable: bool = False


def _fields(*fields: Field) -> dict[str, Field]:
    return {f.name: f for f in fields}


_WF_STATUSES = frozenset(s.value for s in WorkflowStatus)
_TASK_STATUSES = frozenset(s.value for s in TaskStatus)

# Conductor's workflow search fields, plus a few columns the read model has anyway.
WORKFLOW_FIELDS = _fields(
    Field("workflowType", "w.workflow_type", FieldType.TEXT),
    Field("status", "w.status", FieldType.STATUS, _WF_STATUSES),
    Field("workflowId", "w.workflow_id", FieldType.TEXT),
    Field("correlationId", "w.correlation_id", FieldType.TEXT, nullable=True),
    Field("parentWorkflowId", "w.parent_workflow_id", FieldType.TEXT, nullable=True),
    Field("rootWorkflowId", "w.root_workflow_id", FieldType.TEXT),
    Field("idempotencyKey", "w.idempotency_key", FieldType.TEXT, nullable=True),
    Field("version", "w.version", FieldType.INT),
    Field("priority", "w.priority", FieldType.INT),
    Field("startTime", "w.start_time", FieldType.TIME),
    Field("createTime", "w.create_time", FieldType.TIME),
    Field("updateTime", "w.update_time", FieldType.TIME),
    Field("endTime", "w.end_time", FieldType.TIME, nullable=True),
)

# Conductor's TaskSummary fields (tasks joined with their workflow).
TASK_FIELDS = _fields(
    Field("taskId", "t.task_id", FieldType.TEXT),
    Field("taskType", "t.task_type", FieldType.TEXT),
    Field("taskDefName", "t.name", FieldType.TEXT),
    Field("referenceTaskName", "t.ref", FieldType.TEXT),
    Field("status", "t.status", FieldType.STATUS, _TASK_STATUSES),
    Field("workerId", "t.worker_id", FieldType.TEXT, nullable=True),
    Field("workflowId", "t.workflow_id", FieldType.TEXT),
    Field("workflowType", "w.workflow_type", FieldType.TEXT),
    Field("correlationId", "w.correlation_id", FieldType.TEXT, nullable=True),
    Field("retryCount", "t.retry_count", FieldType.INT),
    Field("scheduledTime", "t.scheduled_time", FieldType.TIME),
    Field("startTime", "t.start_time", FieldType.TIME, nullable=True),
    Field("updateTime", "t.update_time", FieldType.TIME),
    Field("endTime", "t.end_time", FieldType.TIME, nullable=True),
)
