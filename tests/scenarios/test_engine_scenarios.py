"""Whole workflows on the in-memory runtime (decide/evolve/react as the processor runs them)."""

from __future__ import annotations

from orchestrator.domain import commands as cmd
from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus
from orchestrator.testing import InMemoryRuntime, always, fail_times, never, slow
from orchestrator.testing.builders import task, workflow
from orchestrator.testing.context import dict_context


def runtime(defs, task_defs, workers, **kw) -> InMemoryRuntime:
    return InMemoryRuntime(dict_context(defs, task_defs), workers=workers, **kw)


def start(rt: InMemoryRuntime, name: str, wid: str = "wf", **kw) -> None:
    rt.submit(
        cmd.StartWorkflow(workflow_id=wid, at=rt.clock.now, actor="api:test", name=name, **kw)
    )


def test_flaky_worker_succeeds_after_retries_with_delays():
    rt = runtime(
        [workflow("w", task("a"), task("b"))],
        [TaskDef(name="a", retry_count=3, retry_delay_seconds=10), TaskDef(name="b")],
        {"a": fail_times(2, {"v": 1}), "b": always()},
    )
    t0 = rt.clock.now
    start(rt, "w")
    rt.run_until_idle()
    state = rt.state("wf")
    assert state.status is WorkflowStatus.COMPLETED
    attempts = [t for t in state.tasks.values() if t.ref == "a"]
    assert sorted(t.retry_count for t in attempts) == [0, 1, 2]
    assert max(t.scheduled_at + t.start_delay_ms for t in attempts) - t0 == 20_000


def test_kafka_native_workers_skip_the_ack():
    rt = runtime(
        [workflow("w", task("a"))], [TaskDef(name="a")], {"a": always({"x": 1})}, ack=False
    )
    start(rt, "w")
    assert rt.state("wf").status is WorkflowStatus.COMPLETED
    assert not rt.rejections


def test_lost_worker_is_caught_by_response_timeout_and_retried():
    answers = iter([None, {"ok": 1}])

    def flaky(task_):
        from orchestrator.testing.workers import Reply

        out = next(answers)
        return None if out is None else Reply(output=out)

    rt = runtime(
        [workflow("w", task("a"))],
        [TaskDef(name="a", retry_count=1, retry_delay_seconds=0, response_timeout_seconds=5)],
        {"a": flaky},
    )
    start(rt, "w")
    rt.run_until_idle()
    state = rt.state("wf")
    assert state.status is WorkflowStatus.COMPLETED
    assert [str(t.status) for t in sorted(state.tasks.values(), key=lambda t: t.seq)] == [
        "TIMED_OUT",
        "COMPLETED",
    ]


def test_wide_fork_completes_once_all_branches_report():
    branches = tuple((task(f"b{i}", name="work"),) for i in range(50))
    wf = workflow(
        "wide",
        task("f", "FORK_JOIN", fork_tasks=branches),
        task("j", "JOIN", join_on=tuple(f"b{i}" for i in range(50))),
    )
    rt = runtime([wf], [TaskDef(name="work")], {"work": slow(100, {"r": 1})})
    start(rt, "wide")
    rt.run_until_idle()
    state = rt.state("wf")
    assert state.status is WorkflowStatus.COMPLETED
    assert len(state.output) == 50


def test_runtime_restart_redispatches_and_rearms_timers():
    rt = runtime(
        [workflow("w", task("a"))],
        [TaskDef(name="a", retry_count=0, response_timeout_seconds=30)],
        {"a": never()},
    )
    start(rt, "w")
    dispatched = len(rt.dispatched)
    rt.restart()  # timers lost; resume() re-derives the dispatch of queued tasks and all timers
    assert len(rt.dispatched) == dispatched  # in progress tasks are not re-dispatched
    rt.run_until_idle()
    assert rt.state("wf").status is WorkflowStatus.TIMED_OUT


def test_restart_of_runtime_before_pickup_redispatches_task_once_more():
    rt = runtime([workflow("w", task("a"))], [TaskDef(name="a")], {}, ack=False)
    start(rt, "w")
    rt.workers["a"] = always({"done": 1})
    rt.restart()
    assert rt.state("wf").status is WorkflowStatus.COMPLETED


def test_duplicate_effects_are_harmless():
    rt = runtime(
        [workflow("w", task("a"), task("b"))],
        [TaskDef(name="a"), TaskDef(name="b")],
        {"a": always(), "b": always()},
    )
    start(rt, "w")
    events = list(rt.events["wf"])
    rt.restart()  # re-performs end effects; duplicates are rejected
    start(rt, "w")
    assert rt.events["wf"] == events
    assert rt.rejections[-1][1].code == "ALREADY_EXISTS"


def test_failure_workflow_runs_after_failure():
    main = workflow("main", task("a"), failure_workflow="cleanup")
    cleanup = workflow(
        "cleanup", task("n", "NOOP", input_parameters={"failed": "${workflow.input.workflowId}"})
    )
    rt = runtime(
        [main, cleanup], [TaskDef(name="a", retry_count=0)], {"a": always(status=TaskStatus.FAILED)}
    )
    start(rt, "main")
    state = rt.state("wf")
    assert state.status is WorkflowStatus.FAILED
    child = rt.state(str(state.failure_workflow_id))
    assert child.status is WorkflowStatus.COMPLETED
    assert child.output == {}
    assert child.lookup_ref("n").input == {"failed": "wf"}


def test_idempotent_start_with_same_key_returns_existing():
    from orchestrator.domain.ids import workflow_id_for_idempotency_key

    rt = runtime([workflow("w", task("a"))], [TaskDef(name="a")], {"a": always()})
    wid = workflow_id_for_idempotency_key("w", "order-1")
    for _ in range(2):
        start(
            rt,
            "w",
            wid=wid,
            idempotency_key="order-1",
            idempotency_strategy=cmd.IdempotencyStrategy.RETURN_EXISTING,
        )
    assert len([e for e in rt.events[wid] if type(e).__name__ == "WorkflowStarted"]) == 1
    start(
        rt,
        "w",
        wid=wid,
        idempotency_key="order-1",
        idempotency_strategy=cmd.IdempotencyStrategy.FAIL_ON_RUNNING,
    )
    assert rt.state(wid).generation == 1  # the ended run is followed by a new one, same id


def test_a_worker_task_nobody_registered_runs_under_conductors_default_task_def():
    """Verified on Conductor 3.32.3: no TaskDef registered, no inline one: the task runs with
    the defaults (3 retries, 60 s apart, FIXED; response timeout 3600 s)."""
    rt = runtime([workflow("w", task("unregistered"))], [], {"unregistered": fail_times(3, {})})
    t0 = rt.clock.now
    start(rt, "w")
    rt.run_until_idle()
    state = rt.state("wf")
    assert state.status is WorkflowStatus.COMPLETED
    attempts = sorted((t for t in state.tasks.values()), key=lambda t: t.retry_count)
    assert [t.retry_count for t in attempts] == [0, 1, 2, 3]
    assert [t.scheduled_at + t.start_delay_ms - t0 for t in attempts] == [
        0,
        60_000,
        120_000,
        180_000,
    ]
    assert attempts[0].task_def.response_timeout_seconds == 3600
