"""The topic registry: names, sanitising of task types, co-partitioning and configs."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.kafka.topics import (
    COMMANDS_RETENTION_MS,
    DLQ_RETENTION_MS,
    MAX_TOPIC_LENGTH,
    REJECTIONS_RETENTION_MS,
    TopicNames,
    core_topics,
    definition_key,
    task_topic,
    task_topic_spec,
    topic_segment,
)
from orchestrator.settings import Settings

LEGAL = re.compile(r"[A-Za-z0-9._-]{1,249}")


def test_core_names_derive_from_the_prefix() -> None:
    names = TopicNames("acme")
    assert (names.commands, names.events, names.definitions) == (
        "acme.commands",
        "acme.events",
        "acme.definitions",
    )
    assert (names.dlq, names.rejections) == ("acme.dlq", "acme.rejections")
    specs = core_topics(Settings(topic_prefix="acme"))
    assert [s.name for s in specs] == [
        "acme.commands",
        "acme.events",
        "acme.definitions",
        "acme.dlq",
        "acme.rejections",
        "acme.event-queues",
        "acme-processor-executions-changelog",
        "acme.status",
    ]


def test_task_topics_with_and_without_domain() -> None:
    assert task_topic("encode_video") == "orchestrator.tasks.encode_video"
    assert task_topic("encode_video", "gpu") == "orchestrator.tasks.gpu.encode_video"
    assert task_topic("x", prefix="acme") == "acme.tasks.x"


def test_illegal_task_type_is_sanitised_with_a_hash_suffix() -> None:
    topic = task_topic("send email/v2")
    assert LEGAL.fullmatch(topic)
    assert re.fullmatch(r"orchestrator\.tasks\.send_email_v2-[0-9a-f]{8}", topic)
    assert task_topic("send email/v2") == topic  # deterministic


def test_names_that_clean_to_the_same_text_stay_distinct() -> None:
    topics = {task_topic(n) for n in ("a b", "a/b", "a:b", "a.b", "a_b")}
    assert len(topics) == 5


def test_dot_in_a_task_type_cannot_pose_as_a_domain() -> None:
    assert task_topic("gpu.encode") != task_topic("encode", "gpu")


def test_over_long_names_are_cut_to_kafkas_limit() -> None:
    long_name = "t" * 400
    topic = task_topic(long_name, "d" * 300, prefix="p" * 100)
    assert len(topic) <= MAX_TOPIC_LENGTH
    assert LEGAL.fullmatch(topic)
    assert task_topic(long_name) != task_topic(long_name + "x")


@given(st.text(min_size=1, max_size=300), st.one_of(st.none(), st.text(min_size=1, max_size=80)))
def test_every_task_name_maps_to_a_legal_topic(task_type: str, domain: str | None) -> None:
    assert LEGAL.fullmatch(task_topic(task_type, domain))


def test_empty_segment_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        topic_segment("")


def test_commands_and_events_are_copartitioned() -> None:
    specs = {s.name: s for s in core_topics(Settings(partitions=12))}
    commands, events = specs["orchestrator.commands"], specs["orchestrator.events"]
    assert commands.partitions == events.partitions == 12
    assert commands.copartitioned and events.copartitioned


def test_events_topic_keeps_the_log_forever_and_is_never_compacted() -> None:
    events = _spec(Settings(), "orchestrator.events")
    assert events.config["cleanup.policy"] == "delete"
    assert events.config["retention.ms"] == "-1"
    assert events.config["retention.bytes"] == "-1"
    limited = _spec(Settings(events_retention_ms=86_400_000), "orchestrator.events")
    assert limited.config["retention.ms"] == "86400000"


def test_retention_and_cleanup_of_the_other_topics() -> None:
    s = Settings()
    assert _spec(s, "orchestrator.commands").config["retention.ms"] == str(COMMANDS_RETENTION_MS)
    assert _spec(s, "orchestrator.dlq").config["retention.ms"] == str(DLQ_RETENTION_MS)
    assert _spec(s, "orchestrator.rejections").config["retention.ms"] == str(
        REJECTIONS_RETENTION_MS
    )
    definitions = _spec(s, "orchestrator.definitions")
    assert definitions.config["cleanup.policy"] == "compact"
    assert "retention.ms" not in definitions.config
    assert COMMANDS_RETENTION_MS == 7 * 24 * 3600 * 1000
    assert DLQ_RETENTION_MS == 30 * 24 * 3600 * 1000


def test_replication_settings_apply_to_every_topic() -> None:
    s = Settings(replication_factor=3)
    for spec in [*core_topics(s), task_topic_spec(s, "t")]:
        assert spec.replication_factor == 3
        assert spec.config["min.insync.replicas"] == "2"


def test_definition_keys() -> None:
    assert definition_key("workflow", "order", 3) == "workflow:order:3"
    assert definition_key("task", "charge") == "task:charge"
    with pytest.raises(ValueError):
        definition_key("workflow", "order")


def _spec(settings: Settings, name: str):
    return next(s for s in core_topics(settings) if s.name == name)
