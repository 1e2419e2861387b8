"""Conductor's search grammar: parsing, the SQL it becomes, and where bad input breaks."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.api.search import (
    TASK_FIELDS,
    WORKFLOW_FIELDS,
    QueryError,
    condition_sql,
    parse_query,
    parse_sort,
    workflow_search,
)


def translate(query: str) -> tuple[str, list[Any]]:
    node = parse_query(query, WORKFLOW_FIELDS)
    assert node is not None
    params: list[Any] = []
    return condition_sql(node, params), params


VALID = [
    # (query, SQL, parameters)
    ("workflowType = 'order_flow'", "w.workflow_type = %s", ["order_flow"]),
    ('workflowType="order_flow"', "w.workflow_type = %s", ["order_flow"]),
    ("status = RUNNING", "w.status = %s", ["RUNNING"]),
    ("correlationId != 'c-1'", "w.correlation_id IS DISTINCT FROM %s", ["c-1"]),
    ("startTime > 1700000000000", "w.start_time > %s", [1700000000000]),
    ("startTime<5", "w.start_time < %s", [5]),
    ("endTime >= 10", "w.end_time >= %s", [10]),
    ("updateTime <= '10'", "w.update_time <= %s", [10]),
    (
        "status IN (RUNNING, 'FAILED',PAUSED)",
        "w.status = ANY(%s::text[])",
        [["RUNNING", "FAILED", "PAUSED"]],
    ),
    ("version IN (1, 2)", "w.version = ANY(%s::bigint[])", [[1, 2]]),
    ("startTime BETWEEN 1 AND 2", "w.start_time BETWEEN %s AND %s", [1, 2]),
    ("parentWorkflowId IS NULL", "w.parent_workflow_id IS NULL", []),
    ("endTime IS NOT NULL", "w.end_time IS NOT NULL", []),
    ("endTime is not null", "w.end_time IS NOT NULL", []),
    ("workflowId STARTS_WITH 'ab'", "w.workflow_id LIKE %s", ["ab%"]),
    ("correlationId STARTS_WITH '50%_a\\\\b'", "w.correlation_id LIKE %s", ["50\\%\\_a\\\\b%"]),
    ("workflowType = 'it\\'s'", "w.workflow_type = %s", ["it's"]),
    ('workflowType = "a AND b"', "w.workflow_type = %s", ["a AND b"]),
    ("workflowId = 3f1c-9a", "w.workflow_id = %s", ["3f1c-9a"]),
    (
        "workflowType = a AND status = RUNNING",
        "(w.workflow_type = %s AND w.status = %s)",
        ["a", "RUNNING"],
    ),
    (  # Conductor's grouping: the rest of the query is the right-hand side
        "workflowType = a AND status = RUNNING OR status = PAUSED",
        "(w.workflow_type = %s AND (w.status = %s OR w.status = %s))",
        ["a", "RUNNING", "PAUSED"],
    ),
    (
        "(workflowType = a AND status = RUNNING) OR status = PAUSED",
        "((w.workflow_type = %s AND w.status = %s) OR w.status = %s)",
        ["a", "RUNNING", "PAUSED"],
    ),
    (
        "((workflowType = a)) and (startTime > 1 or endTime IS NULL)",
        "(w.workflow_type = %s AND (w.start_time > %s OR w.end_time IS NULL))",
        ["a", 1],
    ),
]


@pytest.mark.parametrize(("query", "sql", "params"), VALID, ids=[v[0] for v in VALID])
def test_valid_query_becomes_parameterised_sql(query: str, sql: str, params: list[Any]) -> None:
    assert translate(query) == (sql, params)


INVALID = [
    # (query, position, words the message must contain)
    ("workflowType", 12, "operator"),
    ("workflowType =", 14, "a value for workflowType"),
    ("nosuchfield = 1", 0, "a field name"),
    ("= 'x'", 0, "a field name"),
    ("status = 'DONE'", 9, "a status"),
    ("startTime > yesterday", 12, "an integer for startTime"),
    ("version = 1.5", 10, "an integer for version"),
    ("workflowType > 'a'", 13, "=, !=, IN, IS or STARTS_WITH"),
    ("startTime STARTS_WITH 1", 10, "numeric field startTime"),
    ("status IN RUNNING", 10, "'(' opening the IN list"),
    ("status IN (RUNNING", 18, "',' or ')'"),
    ("status IN (RUNNING FAILED)", 19, "',' or ')'"),
    ("status IN ()", 11, "a value for status"),
    ("startTime BETWEEN 1 2", 20, "AND between"),
    ("startTime BETWEEN 1 AND", 23, "a value for startTime"),
    ("endTime IS 5", 11, "NULL or NOT NULL"),
    ("endTime IS NOT", 14, "NULL or NOT NULL"),
    ("status = RUNNING AND", 20, "a field name"),
    ("status = RUNNING workflowType = x", 17, "AND, OR or the end"),
    ("status = RUNNING)", 16, "no '(' open"),
    ("(status = RUNNING", 17, "')', AND or OR"),
    ("()", 1, "a field name"),
    ("workflowType = 'open", 20, "closing '"),
    ("workflowType ! 'x'", 13, "'!='"),
    ("workflowType LIKE 'x'", 13, "an operator"),
]


@pytest.mark.parametrize(("query", "position", "words"), INVALID, ids=[v[0] for v in INVALID])
def test_malformed_query_names_the_position_and_what_was_expected(
    query: str, position: int, words: str
) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(query, WORKFLOW_FIELDS)
    assert caught.value.position == position, str(caught.value)
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"Invalid query at position {position}: expected ")


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_empty_query_has_no_condition(blank: str | None) -> None:
    assert parse_query(blank, WORKFLOW_FIELDS) is None


def test_user_values_never_reach_the_sql_text() -> None:
    hostile = "x'; DROP TABLE workflows; --"
    sql, params = translate(f'workflowType = "{hostile}" OR correlationId IN ("{hostile}")')
    assert "DROP" not in sql and hostile in params
    plan = workflow_search(None, hostile, (), 0, 10, 100)
    assert "DROP" not in plan.page and hostile in plan.page_params


def test_in_list_is_bounded() -> None:
    values = ",".join(str(i) for i in range(1001))
    with pytest.raises(QueryError, match="at most 1000"):
        parse_query(f"version IN ({values})", WORKFLOW_FIELDS)


def test_task_fields_are_their_own_set() -> None:
    node = parse_query("taskType = http AND status = COMPLETED_WITH_ERRORS", TASK_FIELDS)
    params: list[Any] = []
    assert condition_sql(node, params) == "(t.task_type = %s AND t.status = %s)"
    with pytest.raises(QueryError, match="a status"):
        parse_query("status = PAUSED", TASK_FIELDS)  # a workflow status, not a task status


SORTS = [
    ("startTime:DESC", [("w.start_time", True)]),
    ("workflowType", [("w.workflow_type", False)]),
    ("workflowType:asc,endTime:DESC", [("w.workflow_type", False), ("w.end_time", True)]),
    ("status:ASC|updateTime:DESC", [("w.status", False), ("w.update_time", True)]),
]


@pytest.mark.parametrize(("text", "keys"), SORTS, ids=[s[0] for s in SORTS])
def test_sort_accepts_conductor_and_spring_separators(text: str, keys: list[Any]) -> None:
    parsed = parse_sort(text, WORKFLOW_FIELDS)
    assert [(k.field.column, k.descending) for k in parsed] == keys


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("nosuch:ASC", 0, "a sort field"),
        ("startTime:UP", 10, "ASC or DESC"),
        ("startTime:DESC, bogus", 16, "a sort field"),
    ],
)
def test_malformed_sort_names_the_position(text: str, position: int, words: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_sort(text, WORKFLOW_FIELDS)
    assert caught.value.position == position
    assert str(caught.value).startswith(f"Invalid sort at position {position}")
    assert words in str(caught.value)


def test_search_orders_by_a_unique_tiebreak_and_hides_removed_workflows() -> None:
    keys = parse_sort("endTime:DESC", WORKFLOW_FIELDS)
    plan = workflow_search(parse_query("status = FAILED", WORKFLOW_FIELDS), "*", keys, 20, 10, 500)
    assert "ORDER BY w.end_time DESC NULLS LAST, w.workflow_id" in plan.page
    assert "workflow_removals" in plan.page and "workflow_removals" in plan.count
    assert plan.page_params == ("FAILED", 10, 20)
    assert plan.count_params == ("FAILED", 500)
    assert "search_text" not in plan.page  # '*' is no free-text condition


@pytest.mark.parametrize(
    ("query", "words"),
    [
        (" AND ".join(["version = 1"] * 201), "at most 200 conditions"),
        ("(" * 33 + "version = 1" + ")" * 33, "at most 32 nested parentheses"),
        ("workflowType = '" + "x" * 10_000 + "'", "at most 10000 characters"),
    ],
    ids=["conditions", "nesting", "length"],
)
def test_oversized_queries_are_refused_not_crashed_on(query: str, words: str) -> None:
    with pytest.raises(QueryError, match=words):
        parse_query(query, WORKFLOW_FIELDS)


def test_a_long_chain_within_bounds_nests_to_the_right() -> None:
    sql, params = translate(" OR ".join(f"version = {i}" for i in range(200)))
    assert params == list(range(200))
    assert sql.startswith("(w.version = %s OR (w.version = %s OR") and sql.endswith(")" * 199)
