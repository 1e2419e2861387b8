"""The event-handler process without Kafka: records in, commands and dead letters out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from orchestrator.codec import wire
from orchestrator.domain import commands as cmd
from orchestrator.domain import ids
from orchestrator.domain.definitions_json import parse_workflow_def
from orchestrator.domain.event_handlers import parse_event_handler
from orchestrator.domain.statuses import TaskStatus
from orchestrator.events.commands import Roots
from orchestrator.events.messages import BadMessage, read_message
from orchestrator.events.processor import EventProcessor
from orchestrator.events.registry import HandlerRegistry
from orchestrator.kafka.topics import TopicNames, definition_key
from orchestrator.settings import Settings

TOPICS = TopicNames("acme")
EVENT = "conductor:pub:ev_ref"


@dataclass
class Msg:
    """The parts of a confluent_kafka.Message the processor reads."""

    value_: bytes | None
    key_: bytes | None = None
    topic_: str = TOPICS.event_queues
    headers_: list[tuple[str, bytes]] = field(default_factory=list)
    partition_: int = 2
    offset_: int = 40

    def value(self) -> bytes | None:
        return self.value_

    def key(self) -> bytes | None:
        return self.key_

    def topic(self) -> str:
        return self.topic_

    def headers(self) -> list[tuple[str, bytes]]:
        return self.headers_

    def partition(self) -> int:
        return self.partition_

    def offset(self) -> int:
        return self.offset_

    def error(self) -> None:
        return None


def queue_message(payload: Any, event: str = EVENT, **headers: str) -> Msg:
    raw = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
    return Msg(
        raw,
        event.encode(),
        headers_=[(k.replace("_", "-"), v.encode()) for k, v in headers.items()],
    )


def register(registry: HandlerRegistry, *bodies: dict[str, Any], at: int = 1000) -> None:
    for body in bodies:
        handler = parse_event_handler(body)
        value = wire.encode_definition(handler, registered_at=at, actor="api:t")
        registry.apply(definition_key("event_handler", handler.name).encode(), value)


@pytest.fixture
def processor() -> Iterator[EventProcessor]:
    # no read model (an empty URL, which no setting accepts from the environment)
    settings = Settings(kafka_bootstrap="127.0.0.1:1", topic_prefix="acme").replace(database_url="")
    p = EventProcessor(settings)
    yield p
    p.scripts.close()


def decoded(out: list[tuple[str, bytes | None, bytes]]) -> list[tuple[str, Any]]:
    return [(topic, wire.decode_any(value)) for topic, _, value in out]


# -- messages ----------------------------------------------------------------------------------


def test_a_queue_record_is_conductors_message_with_its_id_and_tree() -> None:
    msg = queue_message({"k": 1}, message_id="task-1", workflow_id="w-2", root_workflow_id="w-1")

    message, hints = read_message(msg, TOPICS.event_queues)

    assert (message.event, message.message_id, message.payload) == (EVENT, "task-1", {"k": 1})
    assert hints == {"w-2": "w-1"}


def test_a_user_topic_record_is_conductors_kafka_document() -> None:
    msg = Msg(b'{"order": 7}', b"o-7", topic_="orders", headers_=[("source", b"shop")])
    text = Msg(b"not json", None, topic_="orders", offset_=41)

    message, _ = read_message(msg, TOPICS.event_queues)
    plain, _ = read_message(text, TOPICS.event_queues)

    assert (message.event, message.message_id) == ("kafka:orders", "2-40")
    assert message.payload == {"key": "o-7", "headers": {"source": "shop"}, "payload": {"order": 7}}
    assert plain.payload == {"key": "", "headers": {}, "payload": "not json"}


@pytest.mark.parametrize(
    ("msg", "why"),
    [
        (queue_message({"k": 1}, event="orders"), "names no event"),
        (queue_message(b"{oops"), "is not JSON"),
        (queue_message([1, 2]), "is not a JSON object"),
        (Msg(b"{}", None), "names no event"),
    ],
)
def test_a_queue_record_that_is_no_message_says_why(msg: Msg, why: str) -> None:
    with pytest.raises(BadMessage, match=why):
        read_message(msg, TOPICS.event_queues)


# -- the registry --------------------------------------------------------------------------------


def test_registry_follows_handlers_tombstones_and_workflow_versions() -> None:
    registry = HandlerRegistry()
    on = {
        "name": "on",
        "event": "kafka:orders",
        "active": True,
        "actions": [{"action": "fail_task", "fail_task": {"taskId": "x"}}],
    }
    off = {**on, "name": "off", "event": "kafka:other", "active": False}
    register(registry, on, off, at=500)
    for version in (1, 3):
        wf = parse_workflow_def(
            {
                "name": "target",
                "version": version,
                "tasks": [{"name": "a", "taskReferenceName": "a"}],
            }
        )
        value = wire.encode_definition(wf, registered_at=1, actor="t")
        registry.apply(definition_key("workflow", "target", version).encode(), value)

    assert [h.name for h in registry.handlers_for("kafka:orders")] == ["on"]
    assert registry.kafka_topics() == {"orders": 500}  # inactive handlers follow nothing
    assert registry.latest_version("target") == 3
    registry.apply(b"event_handler:on", None)
    registry.apply(b"workflow:target:3", None)
    registry.apply(b"event_handler:x", b"garbage")  # logged, never raised
    assert registry.handlers_for("kafka:orders") == [] and registry.latest_version("target") == 1


# -- handling ----------------------------------------------------------------------------------


def test_matching_handlers_send_commands_with_the_handler_as_actor(
    processor: EventProcessor,
) -> None:
    register(
        processor.registry,
        {
            "name": "complete",
            "event": EVENT,
            "active": True,
            "actions": [
                {
                    "action": "complete_task",
                    "complete_task": {
                        "workflowId": "${workflowInstanceId}",
                        "taskRefName": "ev_ref",
                        "output": {"k": "${k}"},
                    },
                }
            ],
        },
        {
            "name": "start",
            "event": EVENT,
            "active": True,
            "condition": "$.k == 'go'",
            "actions": [
                {
                    "action": "start_workflow",
                    "start_workflow": {"name": "target", "version": 2, "input": {"k": "${k}"}},
                }
            ],
        },
    )
    msg = queue_message(
        {"k": "go", "workflowInstanceId": "w-2"},
        message_id="task-1",
        workflow_id="w-2",
        root_workflow_id="w-1",
    )

    out = decoded(processor.handle(msg))

    assert [topic for topic, _ in out] == [TOPICS.commands] * 2
    update, start = (c for _, c in out)
    assert isinstance(update, cmd.UpdateTaskByRef)
    assert (update.workflow_id, update.root_workflow_id, update.task_ref) == (
        "w-2",
        "w-1",
        "ev_ref",
    )
    assert (update.status, update.output["k"], update.actor) == (
        TaskStatus.COMPLETED,
        "go",
        "event-handler:complete",
    )
    assert isinstance(start, cmd.StartWorkflow)
    assert start.workflow_id == ids.event_workflow_id("start", EVENT, "task-1", 0)
    assert (start.name, start.version, start.input["k"], start.actor) == (
        "target",
        2,
        "go",
        "event-handler:start",
    )


def test_what_cannot_run_is_a_dead_letter_and_the_rest_still_runs(
    processor: EventProcessor,
) -> None:
    register(
        processor.registry,
        {
            "name": "a-broken",
            "event": EVENT,
            "active": True,
            "condition": "$.nope.deeper",
            "actions": [{"action": "fail_task", "fail_task": {"taskId": "t"}}],
        },
        {
            "name": "b-unsupported",
            "event": EVENT,
            "active": True,
            "actions": [
                {"action": "terminate_workflow"},
                {"action": "fail_task", "fail_task": {"workflowId": "w-9", "taskRefName": "r"}},
            ],
        },
    )

    out = decoded(processor.handle(queue_message({"k": 1})))
    bad = decoded(processor.handle(queue_message(b"{oops")))

    topics = [topic for topic, _ in out]
    assert topics == [TOPICS.dlq, TOPICS.dlq, TOPICS.commands]
    reasons = [letter.reason for topic, letter in out if topic == TOPICS.dlq]
    assert reasons[0].startswith("event handler a-broken: condition failed: TypeError")
    assert (
        reasons[1]
        == f"event handler b-unsupported, action 0 (terminate_workflow): Action not supported terminate_workflow for event {EVENT}"
    )
    failed = out[2][1]
    assert isinstance(failed, cmd.UpdateTaskByRef) and failed.root_workflow_id == "w-9"  # own root
    [(topic, letter)] = bad
    assert (
        topic == TOPICS.dlq
        and letter.component == "event-handlers"
        and "is not JSON" in letter.reason
    )
    assert (letter.topic, letter.partition, letter.offset) == (TOPICS.event_queues, 2, 40)


def test_roots_without_a_read_model_fall_back_to_the_workflow_itself() -> None:
    roots = Roots(None)
    roots.learn({"child": "root"})

    assert roots.root_of("child") == "root" and roots.root_of("top") == "top"
    assert roots.workflow_of_task("t-1") is None
