"""Parsed searches -> parameterised SQL over the read model (never a user value in the text).

The SQL text is assembled only from the trusted column expressions of fields.py and fixed
operators; every value the user typed is a ``%s`` parameter bound by psycopg.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator.api.search.fields import Field
from orchestrator.api.search.parser import Condition, Junction, Node
from orchestrator.api.search.sort import SortKey

# What a workflow summary needs (not the definition, not the tsvector: they are large).
WORKFLOW_COLUMNS = (
    "w.workflow_id, w.workflow_type, w.version, w.status, w.correlation_id, w.priority, "
    "w.input, w.output, w.reason, w.failed_ref_names, w.failed_task_names, w.create_time, "
    "w.start_time, w.update_time, w.end_time, w.parent_workflow_id, w.root_workflow_id"
)
TASK_COLUMNS = (
    "t.task_id, t.task_type, t.name, t.ref, t.status, t.input, t.output, t.reason, "
    "t.scheduled_time, t.start_time, t.update_time, t.end_time, t.workflow_id, t.worker_id, "
    "w.workflow_type, w.correlation_id, w.priority AS workflow_priority"
)
_NOT_REMOVED = "NOT EXISTS (SELECT 1 FROM workflow_removals r WHERE r.workflow_id = w.workflow_id)"


@dataclass(slots=True)
class Where:
    """Conjuncts and their parameters, in order."""

    parts: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, sql: str, *params: Any) -> None:
        self.parts.append(sql)
        self.params.extend(params)

    @property
    def sql(self) -> str:
        return " AND ".join(self.parts) if self.parts else "TRUE"


def condition_sql(node: Node, params: list[Any]) -> str:
    """SQL of a parsed query; appends the values to ``params`` in placeholder order."""
    if isinstance(node, Junction):
        left = condition_sql(node.left, params)
        right = condition_sql(node.right, params)
        return f"({left} {node.op} {right})"
    return _comparison(node, params)


def _comparison(c: Condition, params: list[Any]) -> str:
    col = c.field.column
    if c.op == "IS NULL":
        return f"{col} IS NULL"
    if c.op == "IS NOT NULL":
        return f"{col} IS NOT NULL"
    if c.op == "IN":
        params.append(list(c.values))
        return f"{col} = ANY(%s::{_array_type(c.field)})"
    if c.op == "STARTS_WITH":
        params.append(_like_prefix(str(c.values[0])))
        return f"{col} LIKE %s"
    params.extend(c.values)
    if c.op == "=":
        return f"{col} = %s"
    if c.op == "!=":  # Conductor's NOT field:value also matches rows without the field
        return f"{col} IS DISTINCT FROM %s"
    if c.op in (">", "<", ">=", "<="):
        return f"{col} {c.op} %s"
    if c.op == "BETWEEN":  # inclusive, as Elasticsearch's range query that Conductor builds
        return f"{col} BETWEEN %s AND %s"
    raise AssertionError(f"unknown operator {c.op}")  # the parser admits no other


def _array_type(f: Field) -> str:
    return "bigint[]" if f.type.numeric else "text[]"


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def order_by(keys: tuple[SortKey, ...], default: str, tiebreak: str) -> str:
    """ORDER BY of the sort keys (NULLs last either way: open workflows have no endTime), then
    a unique column so that pages never overlap or skip rows."""
    if not keys:
        return f"ORDER BY {default}, {tiebreak}"
    items = [
        f"{k.field.column} {'DESC' if k.descending else 'ASC'}"
        + (" NULLS LAST" if k.field.nullable else "")
        for k in keys
    ]
    return f"ORDER BY {', '.join(items)}, {tiebreak}"


@dataclass(frozen=True, slots=True)
class SearchSql:
    count: str
    count_params: tuple[Any, ...]
    page: str
    page_params: tuple[Any, ...]


def workflow_search(
    query: Node | None,
    free_text: str | None,
    sort: tuple[SortKey, ...],
    start: int,
    size: int,
    count_cap: int,
) -> SearchSql:
    where = Where([_NOT_REMOVED])
    if query is not None:
        where.add(condition_sql(query, where.params))
    text = (free_text or "").strip()
    if text and text != "*":
        # Conductor's free text also finds a workflow by its id or correlation id.
        where.add(
            "(w.search_text @@ websearch_to_tsquery('simple', %s) "
            "OR w.workflow_id = %s OR w.correlation_id = %s)",
            text,
            text,
            text,
        )
    body = f"FROM workflows w WHERE {where.sql}"
    order = order_by(sort, "w.start_time DESC", "w.workflow_id")
    return SearchSql(
        count=f"SELECT count(*) FROM (SELECT 1 {body} LIMIT %s) capped",
        count_params=(*where.params, count_cap),
        page=f"SELECT {WORKFLOW_COLUMNS} {body} {order} LIMIT %s OFFSET %s",
        page_params=(*where.params, size, start),
    )


def task_search(
    query: Node | None,
    free_text: str | None,
    sort: tuple[SortKey, ...],
    start: int,
    size: int,
    count_cap: int,
) -> SearchSql:
    where = Where()
    if query is not None:
        where.add(condition_sql(query, where.params))
    text = (free_text or "").strip()
    if text and text != "*":
        # Tasks have no text index: free text finds a task by its id, workflow id or ref.
        where.add("(t.task_id = %s OR t.workflow_id = %s OR t.ref = %s)", text, text, text)
    body = f"FROM tasks t JOIN workflows w ON w.workflow_id = t.workflow_id WHERE {where.sql}"
    order = order_by(sort, "t.update_time DESC", "t.task_id")
    return SearchSql(
        count=f"SELECT count(*) FROM (SELECT 1 {body} LIMIT %s) capped",
        count_params=(*where.params, count_cap),
        page=f"SELECT {TASK_COLUMNS} {body} {order} LIMIT %s OFFSET %s",
        page_params=(*where.params, size, start),
    )
