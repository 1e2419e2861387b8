"""The processor's dispatch routing: gate or task topic, live limits, domains, gate notices."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

from orchestrator.codec import wire
from orchestrator.domain import events as ev
from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.effects import DispatchTask
from orchestrator.domain.statuses import TaskStatus
from orchestrator.engine.registry import DefinitionRegistry
from orchestrator.flow.records import Kind, decode_control, is_control
from orchestrator.flow.routing import DispatchRouter
from orchestrator.kafka.topics import TopicNames
from orchestrator.settings import Settings

TOPICS = TopicNames("acme")


def dispatch(task_type: str = "resize", **fields: Any) -> DispatchTask:
    base = DispatchTask(
        task_id="t-1",
        task_type=task_type,
        reference_task_name="r",
        task_def_name=task_type,
        input_data={},
        workflow_instance_id="w-1",
        root_workflow_id="w-1",
        workflow_type="wf",
        workflow_version=1,
        correlation_id=None,
        retry_count=0,
        poll_count=0,
        seq=1,
        scheduled_time=0,
        start_delay_in_seconds=0,
        response_timeout_seconds=60,
        callback_after_seconds=0,
        domain=None,
        workflow_priority=0,
        iteration=0,
        retried_task_id=None,
        timeout_seconds=0,
        rate_limit_per_frequency=0,
        rate_limit_frequency_in_seconds=1,
        concurrent_exec_limit=None,
    )
    return replace(base, **fields)


def router(
    *defs: TaskDef, gate_all: bool = False, presence: Any = None
) -> tuple[DispatchRouter, list[str]]:
    registry = DefinitionRegistry()
    for td in defs:
        registry.put(td)
    ensured: list[str] = []
    r = DispatchRouter(
        Settings(flow_gate_all=gate_all),
        TOPICS,
        registry,
        presence,
        ensure_gate=lambda: ensured.append("gate"),
    )
    return r, ensured


def routed(r: DispatchRouter, d: DispatchTask) -> tuple[set[Any], tuple[str, bytes, bytes]]:
    queues = asyncio.run(r.prepare([d]))
    return queues, r.route(d)


def test_rate_limited_dispatch_goes_to_the_gate_keyed_by_definition_name() -> None:
    r, ensured = router()
    d = dispatch(rate_limit_per_frequency=5)

    queues, (topic, key, value) = routed(r, d)

    assert (topic, key) == ("acme.gate", b"resize")
    assert wire.decode_dispatch(value) == d
    assert queues == set()  # the gate creates the task topic when it releases
    assert ensured == ["gate"]


def test_unlimited_dispatch_goes_to_its_task_topic_unless_every_type_is_gated() -> None:
    d = dispatch()
    queues, (topic, key, _) = routed(router()[0], d)
    assert (topic, key, queues) == ("acme.tasks.resize", b"t-1", {("resize", None)})

    _, (topic, key, _) = routed(router(gate_all=True)[0], d)
    assert (topic, key) == ("acme.gate", b"resize")


def test_registered_definition_wins_over_the_limits_the_task_was_scheduled_with() -> None:
    now_limited = TaskDef("resize", concurrent_exec_limit=2)
    _, (topic, _, _) = routed(router(now_limited)[0], dispatch())
    assert topic == "acme.gate"

    limit_removed = TaskDef("resize")
    _, (topic, _, _) = routed(router(limit_removed)[0], dispatch(concurrent_exec_limit=2))
    assert topic == "acme.tasks.resize"


def test_direct_dispatch_goes_to_the_resolved_domain() -> None:
    blue_polls = SimpleNamespace(active=lambda task_type, domain: domain == "blue")
    r, _ = router(presence=blue_polls)

    queues, (topic, _, value) = routed(r, dispatch(domain="green,blue,NO_DOMAIN"))

    assert topic == "acme.tasks.blue.resize" and queues == {("resize", "blue")}
    assert wire.decode_dispatch(value).domain == "blue"


def test_gated_dispatch_keeps_its_domain_list_for_the_gate_to_resolve_at_release() -> None:
    r, _ = router(TaskDef("resize", rate_limit_per_frequency=1))

    _, (_, _, value) = routed(r, dispatch(domain="green,NO_DOMAIN"))

    assert wire.decode_dispatch(value).domain == "green,NO_DOMAIN"


def task_state(name: str, td: TaskDef, dispatched: bool = True) -> Any:
    return SimpleNamespace(task_id="t-1", name=name, task_def=td, dispatched=dispatched)


def notices_of(r: DispatchRouter, events: list[Any], tasks: dict[str, Any]) -> list[Any]:
    fresh = {"w-1": SimpleNamespace(tasks=tasks)}
    return r.notices([(e, None) for e in events], fresh, {})


def test_gated_task_start_and_end_become_notices_to_the_gate() -> None:
    r, _ = router()
    tasks = {"t-1": task_state("resize", TaskDef("resize", concurrent_exec_limit=1))}
    events = [
        ev.TaskPickedUp(
            workflow_id="w-1",
            root_workflow_id="w-1",
            seq=3,
            at=100,
            actor="worker:x",
            task_id="t-1",
        ),
        ev.TaskCompleted(
            workflow_id="w-1",
            root_workflow_id="w-1",
            seq=4,
            at=200,
            actor="worker:x",
            task_id="t-1",
        ),
    ]

    records = notices_of(r, events, tasks)

    assert [(t, k) for t, k, _ in records] == [("acme.gate", b"resize")] * 2
    assert all(is_control(v) for _, _, v in records)
    decoded = [decode_control(v) for _, _, v in records]
    assert [(c.kind, c.task_id, c.at) for c in decoded] == [
        (Kind.STARTED, "t-1", 100),
        (Kind.ENDED, "t-1", 200),
    ]


def test_no_notices_for_ungated_or_inline_tasks() -> None:
    r, _ = router()
    done = ev.TaskCompleted(
        workflow_id="w-1", root_workflow_id="w-1", seq=4, at=200, actor="worker:x", task_id="t-1"
    )
    assert notices_of(r, [done], {"t-1": task_state("resize", TaskDef("resize"))}) == []
    limited = TaskDef("resize", concurrent_exec_limit=1)
    inline = {"t-1": task_state("resize", limited, dispatched=False)}
    assert notices_of(r, [done], inline) == []


def test_ended_notice_found_in_the_state_before_the_batch() -> None:
    r, _ = router()
    limited = TaskDef("resize", rate_limit_per_frequency=2)
    cache = {
        "w-1": SimpleNamespace(state=SimpleNamespace(tasks={"t-1": task_state("resize", limited)}))
    }
    canceled = ev.TaskCanceled(
        workflow_id="w-1", root_workflow_id="w-1", seq=9, at=300, actor="api:x", task_id="t-1"
    )

    records = r.notices([(canceled, None)], {"w-1": SimpleNamespace(tasks={})}, cache)

    assert [decode_control(v).kind for _, _, v in records] == [Kind.ENDED]


def test_notices_carry_when_a_worker_took_an_unacknowledged_task() -> None:
    r, _ = router()
    tasks = {"t-1": task_state("resize", TaskDef("resize", rate_limit_per_frequency=5))}
    base = {"workflow_id": "w-1", "root_workflow_id": "w-1", "actor": "worker:x", "task_id": "t-1"}
    events = [
        ev.TaskProgressed(seq=3, at=150, started_at=120, **base),  # a heartbeat without an ack
        ev.TaskCompleted(seq=4, at=200, started_at=120, **base),
        ev.TaskFailed(seq=5, at=300, status=TaskStatus.FAILED, reason="x", **base),
    ]

    decoded = [decode_control(v) for _, _, v in notices_of(r, events, tasks)]

    assert [(c.kind, c.at, c.start) for c in decoded] == [
        (Kind.STARTED, 120, None),
        (Kind.ENDED, 200, 120),
        (Kind.ENDED, 300, None),  # acknowledged before: its pickup was a started notice
    ]
