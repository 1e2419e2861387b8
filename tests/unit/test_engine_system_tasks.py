"""Given/when/then: inline system tasks, SWITCH/DECISION, FORK/JOIN, system executors."""

from orchestrator.domain.commands import TimerKind as K
from orchestrator.domain.commands import UpdateTaskByRef
from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.effects import DispatchTask, ScheduleTimer
from orchestrator.domain.outcome import RejectionCode
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.testing.builders import T0, Engine, task, workflow
from orchestrator.testing.scripts import FakeScripts

JS = FakeScripts(
    js={
        "$.n * 2": lambda b: b["n"] * 2,
        "$.n > 1 ? 'big' : 'small'": lambda b: "big" if b["n"] > 1 else "small",
        "boom": lambda b: 1 / 0,
    }
)


def run(wf, **kw) -> Engine:
    e = Engine.of([wf], [TaskDef(name=n) for n in ("a", "b", "c")], scripts=JS)
    e.start(wf.name, kw.get("input", {}))
    return e


def test_noop_completes_inline_and_workflow_finishes():
    e = run(workflow("n", task("x", "NOOP")))
    assert e.events_of() == [
        "WorkflowStarted",
        "TaskScheduled",
        "TaskCompleted",
        "WorkflowCompleted",
    ]


def test_set_variable_merges_into_workflow_variables():
    e = run(
        workflow(
            "v",
            task("s", "SET_VARIABLE", input_parameters={"k": "${workflow.input.k}"}),
            variables={"old": 1},
        ),
        input={"k": 2},
    )
    assert e.state.variables == {"old": 1, "k": 2}


def test_inline_javascript_result_in_output():
    e = run(
        workflow(
            "i",
            task(
                "i",
                "INLINE",
                input_parameters={"evaluatorType": "javascript", "expression": "$.n * 2", "n": 21},
            ),
        )
    )
    assert e.t("i").output == {"result": 42}


def test_inline_value_param():
    e = run(
        workflow(
            "i",
            task(
                "i",
                "INLINE",
                input_parameters={"evaluatorType": "value-param", "expression": "n", "n": 5},
            ),
        )
    )
    assert e.t("i").output == {"result": 5}


def test_inline_script_error_fails_task_with_its_message():
    e = run(
        workflow(
            "i",
            task(
                "i",
                "INLINE",
                input_parameters={"evaluatorType": "javascript", "expression": "boom"},
            ),
        )
    )
    assert e.t("i").status is TaskStatus.FAILED
    assert "division by zero" in e.t("i").reason
    assert e.state.status is WorkflowStatus.FAILED


def test_json_jq_transform_gives_result_and_result_list():
    e = run(
        workflow(
            "j",
            task(
                "j",
                "JSON_JQ_TRANSFORM",
                input_parameters={"xs": [1, 2], "queryExpression": ".xs | map(. * 10)"},
            ),
        )
    )
    assert e.t("j").output == {"result": [10, 20], "resultList": [[10, 20]]}


def test_terminate_task_ends_workflow_with_status_and_output():
    wf = workflow(
        "t",
        task("a"),
        task(
            "t",
            "TERMINATE",
            input_parameters={
                "terminationStatus": "FAILED",
                "terminationReason": "no stock",
                "workflowOutput": {"x": 1},
            },
        ),
    )
    e = run(wf)
    e.report("a")
    assert e.state.status is WorkflowStatus.FAILED
    assert e.state.reason == "no stock"
    assert e.state.output == {"x": 1}


def test_terminate_task_completed_cancels_parallel_tasks():
    wf = workflow(
        "t",
        task(
            "f",
            "FORK_JOIN",
            fork_tasks=(
                (task("a"),),
                (task("t", "TERMINATE", input_parameters={"terminationStatus": "COMPLETED"}),),
            ),
        ),
        task("j", "JOIN", join_on=("a", "t")),
    )
    e = run(wf)
    assert e.state.status is WorkflowStatus.COMPLETED
    assert e.t("a").status is TaskStatus.CANCELED


def test_switch_completes_with_its_case_and_the_workflow_goes_on_after_the_case():
    wf = workflow(
        "s",
        task(
            "s",
            "SWITCH",
            evaluator_type="value-param",
            expression="v",
            input_parameters={"v": "${workflow.input.v}"},
            decision_cases={"x": (task("a"),), "y": (task("b"),)},
        ),
        task("c"),
    )
    e = run(wf, input={"v": "y"})
    assert e.t("b").status is TaskStatus.SCHEDULED
    assert e.t("s").status is TaskStatus.COMPLETED  # Conductor: completed as the case is chosen
    assert e.t("s").output == {"evaluationResult": ["y"], "selectedCase": "y"}
    assert e.t("s").input == {"v": "y", "case": "y", "hasChildren": "true"}
    assert e.state.lookup_ref("c") is None  # what follows waits for the case to end
    e.report("b")
    assert e.t("c").status is TaskStatus.SCHEDULED


def test_switch_javascript_and_default_case():
    wf = workflow(
        "s",
        task(
            "s",
            "SWITCH",
            evaluator_type="javascript",
            expression="$.n > 1 ? 'big' : 'small'",
            input_parameters={"n": 0},
            decision_cases={"big": (task("a"),)},
            default_case=(task("b"),),
        ),
    )
    e = run(wf)
    assert e.t("b").status is TaskStatus.SCHEDULED
    assert e.state.lookup_ref("a") is None


def test_switch_without_matching_case_or_default_goes_on():
    wf = workflow(
        "s",
        task(
            "s",
            "SWITCH",
            evaluator_type="value-param",
            expression="v",
            decision_cases={"x": (task("a"),)},
        ),
        task("c"),
    )
    e = run(wf)
    assert e.t("s").status is TaskStatus.COMPLETED
    assert e.t("c").status is TaskStatus.SCHEDULED


def test_decision_case_value_param():
    wf = workflow(
        "d",
        task(
            "d",
            "DECISION",
            case_value_param="v",
            input_parameters={"v": 1},
            decision_cases={"1": (task("a"),)},
        ),
    )
    e = run(wf)
    assert e.t("a").status is TaskStatus.SCHEDULED
    assert e.t("d").status is TaskStatus.COMPLETED
    assert e.t("d").input == {"case": "1", "hasChildren": "true"}  # DecisionTaskMapper's input
    assert e.t("d").output == {"caseOutput": ["1"]}


def test_decision_falls_back_to_the_default_case_for_an_empty_case_but_switch_does_not():
    cases = {"x": ()}
    kw = {"input_parameters": {"v": "x"}, "decision_cases": cases, "default_case": (task("b"),)}
    decision = workflow("d", task("d", "DECISION", case_value_param="v", **kw))
    switch = workflow("s", task("s", "SWITCH", evaluator_type="value-param", expression="v", **kw))
    assert run(decision).t("b").status is TaskStatus.SCHEDULED
    e = run(switch)
    assert e.state.lookup_ref("b") is None
    assert e.state.status is WorkflowStatus.COMPLETED


def test_fork_schedules_all_branches_and_join_waits():
    wf = workflow(
        "f",
        task("f", "FORK_JOIN", fork_tasks=((task("a"),), (task("b"),))),
        task("j", "JOIN", join_on=("a", "b")),
        task("c"),
    )
    e = run(wf)
    assert e.t("a").status is TaskStatus.SCHEDULED and e.t("b").status is TaskStatus.SCHEDULED
    assert e.t("j").status is TaskStatus.IN_PROGRESS
    e.report("a", output={"x": 1})
    assert e.t("j").status is TaskStatus.IN_PROGRESS
    assert e.events_of(e.report("b", output={"y": 2})) == [
        "TaskCompleted",
        "TaskCompleted",
        "TaskScheduled",
    ]
    assert e.t("j").output == {"a": {"x": 1}, "b": {"y": 2}}


def test_join_counts_optional_failure_as_done():
    wf = workflow(
        "f",
        task("f", "FORK", fork_tasks=((task("a", optional=True),), (task("b"),))),
        task("j", "JOIN", join_on=("a", "b")),
    )
    e = Engine.of([wf], [TaskDef(name="a", retry_count=0), TaskDef(name="b")])
    e.start("f")
    e.report("b")
    e.report("a", TaskStatus.FAILED)
    assert e.state.status is WorkflowStatus.COMPLETED


def test_rejects_worker_report_for_join():
    wf = workflow(
        "f", task("f", "FORK_JOIN", fork_tasks=((task("a"),),)), task("j", "JOIN", join_on=("a",))
    )
    e = run(wf)
    assert e.rejected(e.report("j")).code is RejectionCode.NOT_A_WORKER_TASK


def test_http_is_dispatched_to_system_executor():
    wf = workflow(
        "h",
        task(
            "h",
            "HTTP",
            input_parameters={
                "http_request": {"uri": "http://x/${workflow.input.id}", "method": "GET"}
            },
        ),
    )
    e = run(wf, input={"id": 7})
    [d] = [f for f in e.effects if isinstance(f, DispatchTask)]
    assert d.task_type == "HTTP"
    assert d.input_data["http_request"]["uri"] == "http://x/7"


def test_event_task_input_carries_the_sink():
    e = run(workflow("ev", task("e", "EVENT", sink="kafka:topic")))
    [d] = [f for f in e.effects if isinstance(f, DispatchTask)]
    assert (d.task_type, d.input_data["sink"]) == ("EVENT", "kafka:topic")
    assert d.input_data["asyncComplete"] is False  # as Conductor's EventTaskMapper


def async_event(response_timeout_seconds: int) -> Engine:
    """An asyncComplete EVENT task whose executor published and reported IN_PROGRESS."""
    wf = workflow("ev", task("e", "EVENT", sink="conductor", async_complete=True), task("a"))
    defs = [TaskDef(name="e", response_timeout_seconds=response_timeout_seconds)]
    e = Engine.of([wf], defs, scripts=JS)
    e.start("ev")
    e.report("e", TaskStatus.IN_PROGRESS, output={"event_produced": "conductor:ev:e"}, at=T0 + 5)
    return e


def test_async_complete_event_waits_in_progress_without_a_response_timeout():
    e = async_event(response_timeout_seconds=30)

    assert e.t("e").status is TaskStatus.IN_PROGRESS
    assert e.t("e").input["asyncComplete"] is True
    assert not [
        t for t in e.effects if isinstance(t, ScheduleTimer) and t.kind is K.RESPONSE_TIMEOUT
    ]
    fired = e.fire(K.RESPONSE_TIMEOUT, "e", T0 + 30_005)
    assert e.rejected(fired).code is RejectionCode.TIMER_STALE


def test_async_complete_event_is_completed_by_reference_and_the_workflow_goes_on():
    e = async_event(response_timeout_seconds=0)

    e.op(UpdateTaskByRef, task_ref="e", status=TaskStatus.COMPLETED, output={"ok": 1})

    assert e.t("e").status is TaskStatus.COMPLETED
    assert e.t("e").output["event_produced"] == "conductor:ev:e"
    assert e.t("a").status is TaskStatus.SCHEDULED


def test_secrets_stay_unresolved_in_events():
    e = run(workflow("s", task("a", input_parameters={"k": "${workflow.secrets.API_KEY}"})))
    assert e.t("a").input == {"k": "${workflow.secrets.API_KEY}"}
