"""Given/when/then: the hard maximum of a task output the engine computes itself (INLINE,
JSON_JQ_TRANSFORM): over it, the task fails for good with the size and the limit in its reason
(Conductor's ExternalPayloadStorageUtils.failTask), deterministically."""

from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.payload_limits import PayloadLimits, json_size, over_limit
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.testing.builders import Engine, task, workflow
from orchestrator.testing.scripts import FakeScripts

LIMIT = 1000
LIMITS = PayloadLimits(task_output=LIMIT)
JS = FakeScripts(js={"$.text.repeat($.n)": lambda b: b["text"] * b["n"]})


def inline(n: int, **kw):
    params = {"evaluatorType": "javascript", "expression": "$.text.repeat($.n)", "text": "x"}
    return task("big", "INLINE", input_parameters={**params, "n": n}, **kw)


def run(*tasks, limits: PayloadLimits = LIMITS) -> Engine:
    wf = workflow("w", *tasks)
    e = Engine.of([wf], [TaskDef(name="after")], scripts=JS, payload_limits=limits)
    e.start("w", {})
    return e


def test_json_size_counts_utf8_bytes_of_compact_json():
    assert json_size({"a": [1, 2]}) == len(b'{"a":[1,2]}')
    assert json_size("é") == len('"é"'.encode())
    assert json_size(None) == 4


def test_over_limit_is_none_at_the_limit_and_without_a_limit():
    value = "x" * 98  # 100 bytes with the quotes
    assert over_limit(value, 100) is None
    assert over_limit(value, 99) == 100
    assert over_limit(value, 0) is None


def test_inline_result_just_below_the_limit_completes():
    # {"result":"xxx..."} is 13 bytes of JSON around the text
    e = run(inline(LIMIT - 13), task("after"))
    assert e.t("big").status is TaskStatus.COMPLETED
    assert json_size(e.t("big").output) == LIMIT


def test_inline_result_just_above_the_limit_fails_for_good_with_size_and_limit():
    e = run(inline(LIMIT - 12), task("after"))
    big = e.t("big")
    assert big.status is TaskStatus.FAILED_WITH_TERMINAL_ERROR
    assert big.output == {}
    assert f"{LIMIT + 1} bytes" in big.reason and f"limit of {LIMIT} bytes" in big.reason
    assert e.state.status is WorkflowStatus.FAILED
    assert e.events_of()[-2:] == ["TaskFailed", "WorkflowFailed"]


def test_an_oversized_result_is_not_retried_even_with_retries_left():
    e = run(inline(5000, retry_count=3))
    assert [t.status for t in e.state.tasks.values()] == [TaskStatus.FAILED_WITH_TERMINAL_ERROR]


def test_an_optional_oversized_task_lets_the_workflow_go_on():
    e = run(inline(5000, optional=True), task("after"))
    assert e.t("big").status is TaskStatus.COMPLETED_WITH_ERRORS
    assert e.t("after").status is TaskStatus.SCHEDULED


def test_jq_result_over_the_limit_fails_the_task():
    jq = task(
        "big",
        "JSON_JQ_TRANSFORM",
        input_parameters={"queryExpression": '[range(300)] | map("xx")', "x": 1},
    )
    e = run(jq)
    assert e.t("big").status is TaskStatus.FAILED_WITH_TERMINAL_ERROR
    assert "greater than the permissible limit of 1000 bytes" in e.t("big").reason


def test_without_limits_any_size_completes():
    e = run(inline(50_000), limits=PayloadLimits())
    assert e.t("big").status is TaskStatus.COMPLETED


def test_the_decision_is_the_same_on_replay():
    first, second = run(inline(5000)), run(inline(5000))
    assert first.history == second.history
