"""Conductor's search: the query grammar (parser.py), sort (sort.py), the SQL translation
(sql.py) and the summary JSON (summaries.py). Pure: no I/O; routes_search.py runs the SQL."""

from orchestrator.api.search.errors import QueryError
from orchestrator.api.search.fields import TASK_FIELDS, WORKFLOW_FIELDS, Field, FieldType
from orchestrator.api.search.parser import Condition, Junction, Node, parse_query
from orchestrator.api.search.sort import SortKey, parse_sort
from orchestrator.api.search.sql import SearchSql, condition_sql, task_search, workflow_search

__all__ = [
    "TASK_FIELDS",
    "WORKFLOW_FIELDS",
    "Condition",
    "Field",
    "FieldType",
    "Junction",
    "Node",
    "QueryError",
    "SearchSql",
    "SortKey",
    "condition_sql",
    "parse_query",
    "parse_sort",
    "task_search",
    "workflow_search",
]
