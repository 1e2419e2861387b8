"""Topic creation against the real broker (``make stack-up``).

Each run uses its own TOPIC_PREFIX, so it never touches a deployment's topics or another run's,
and deletes what it created. A missing broker is a failure, never a skip.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.kafka.admin import (
    KafkaUnavailable,
    admin_client,
    delete_topics,
    describe_topics,
    ensure_topics,
)
from orchestrator.kafka.security import KafkaAccess
from orchestrator.kafka.topics import TopicNames, TopicSpec, core_topics, task_topic_spec
from orchestrator.settings import Settings, load_settings

pytestmark = pytest.mark.kafka


@pytest.fixture
def settings() -> Iterator[Settings]:
    prefix = f"it-{uuid.uuid4().hex[:10]}"
    base = load_settings(overrides={"topic_prefix": prefix})
    try:
        admin_client(base, timeout_s=10)
    except KafkaUnavailable as exc:
        pytest.fail(f"{exc}\nThe integration tests need the local stack: run `make stack-up`.")
    yield base
    admin = admin_client(base)
    mine = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix + ".")]
    delete_topics(base, mine)


def specs_of(settings: Settings) -> list[TopicSpec]:
    return [*core_topics(settings), task_topic_spec(settings, "send email/v2", "eu")]


def test_ensure_topics_is_idempotent(settings: Settings) -> None:
    specs = specs_of(settings)
    first = ensure_topics(settings, specs)
    assert first.ok, first.errors
    assert sorted(first.created) == sorted(s.name for s in specs)
    second = ensure_topics(settings, specs)
    assert second.ok and not second.created and not second.warnings, second
    assert sorted(second.existing) == sorted(s.name for s in specs)


def test_described_topics_match_the_registry(settings: Settings) -> None:
    specs = specs_of(settings)
    assert ensure_topics(settings, specs).ok
    described = {d.name: d for d in describe_topics(settings, [s.name for s in specs])}
    for spec in specs:
        actual = described[spec.name]
        assert actual.partitions == spec.partitions, spec.name
        assert actual.replication_factor == spec.replication_factor, spec.name
        for key, value in spec.config.items():
            assert actual.config[key] == value, f"{spec.name} {key}"
            assert actual.overrides[key] == value, f"{spec.name} {key} is not set on the topic"
    events = described[f"{settings.topic_prefix}.events"]
    assert events.config["cleanup.policy"] == "delete"
    assert events.config["retention.ms"] == "-1"


def test_partition_mismatch_on_copartitioned_topics_is_an_error(settings: Settings) -> None:
    assert ensure_topics(settings, core_topics(settings)).ok
    doubled = load_settings(
        overrides={
            "topic_prefix": settings.topic_prefix,
            "partitions": str(settings.partitions * 2),
        }
    )
    report = ensure_topics(settings, core_topics(doubled))
    assert not report.ok
    assert {e.split(":")[0] for e in report.errors} == {
        f"{settings.topic_prefix}.commands",
        f"{settings.topic_prefix}.events",
        f"{settings.topic_prefix}-processor-executions-changelog",  # the processors' state
    }
    assert any(".dlq: has" in w for w in report.warnings)  # not co-partitioned: a warning


def test_topics_command_creates_then_describes(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_KAFKA_BOOTSTRAP", settings.kafka_bootstrap)
    args = ["--topic-prefix", settings.topic_prefix, "topics"]
    runner = CliRunner()
    created = runner.invoke(app, args)
    assert created.exit_code == 0, created.output
    assert f"created  {settings.topic_prefix}.events" in created.output
    names = TopicNames.from_settings(settings)
    for extra in (names.gate, names.gate_status, names.presence):  # flow control's topics too
        assert f"created  {extra}" in created.output
    again = runner.invoke(app, [*args, "--describe-only"])
    assert again.exit_code == 0, again.output
    assert "created" not in again.output
    assert f"{settings.topic_prefix}.events  partitions={settings.partitions}" in again.output
    assert "retention.ms=-1" in again.output


def test_describe_only_reports_missing_topics_and_fails(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_KAFKA_BOOTSTRAP", settings.kafka_bootstrap)
    result = CliRunner().invoke(
        app, ["--topic-prefix", settings.topic_prefix, "topics", "--describe-only"]
    )
    assert result.exit_code == 1
    assert f"missing  {settings.topic_prefix}.commands" in result.output
    assert describe_topics(settings, []) == []


def test_unreachable_broker_fails_fast_with_advice() -> None:
    # Port 1: nothing listens there (the stack's Kafka uses 19092).
    pattern = r"127\.0\.0\.1:1 \(PLAINTEXT\) within 2 s: is the stack up"
    with pytest.raises(KafkaUnavailable, match=pattern):
        ensure_topics(KafkaAccess("127.0.0.1:1"), [], timeout_s=2)
