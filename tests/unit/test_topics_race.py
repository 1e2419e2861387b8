"""ensure_topics when the broker's listing lags its topics (seen in CI under load): a topic the
listing did not show but that exists after all is still compared with its spec, and a described
topic missing from the answering broker's metadata is waited for, not reported as absent.

The admin client is a stand-in here (the race cannot be made on demand against a real broker);
tests/integration/test_topics.py runs the same functions against the real one."""

from __future__ import annotations

from concurrent.futures import Future
from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from orchestrator.kafka import admin
from orchestrator.kafka.topics import TopicSpec


class LaggingAdmin:
    """Knows topics with their partition counts; its first ``lag`` listings show none."""

    def __init__(self, partitions: dict[str, int], lag: int) -> None:
        self.partitions = partitions
        self.lag = lag
        self.listings = 0

    def list_topics(self, timeout: float) -> Any:
        self.listings += 1
        if self.listings <= self.lag:
            return SimpleNamespace(topics={})
        topics = {
            name: SimpleNamespace(
                partitions={p: SimpleNamespace(replicas=[1]) for p in range(count)}
            )
            for name, count in self.partitions.items()
        }
        return SimpleNamespace(topics=topics)

    def create_topics(self, new: list[Any], **_: Any) -> dict[str, Future[None]]:
        futures: dict[str, Future[None]] = {}
        for topic in new:
            future: Future[None] = Future()
            future.set_exception(KafkaException(KafkaError(KafkaError.TOPIC_ALREADY_EXISTS)))
            futures[topic.topic] = future
        return futures

    def describe_configs(self, resources: list[Any], **_: Any) -> dict[Any, Future[dict]]:
        futures: dict[Any, Future[dict]] = {}
        for resource in resources:
            future: Future[dict] = Future()
            future.set_result({})
            futures[resource] = future
        return futures


@pytest.fixture
def lagging(monkeypatch: pytest.MonkeyPatch) -> LaggingAdmin:
    client = LaggingAdmin({"p.commands": 4, "p.dlq": 4}, lag=2)
    monkeypatch.setattr(admin, "admin_client", lambda kafka, timeout_s=10.0: client)
    return client


def test_a_topic_the_listing_missed_is_still_compared_with_its_spec(lagging: LaggingAdmin) -> None:
    specs = [TopicSpec("p.commands", 8, copartitioned=True), TopicSpec("p.dlq", 8)]
    report = admin.ensure_topics(object(), specs, timeout_s=5)  # type: ignore[arg-type]
    assert report.created == []
    assert report.existing == ["p.commands", "p.dlq"]
    assert [e.split(":")[0] for e in report.errors] == ["p.commands"]
    assert [w.split(":")[0] for w in report.warnings] == ["p.dlq"]
    assert lagging.listings == 3  # the missed listing, a lagging one, then the topics


def test_matching_topics_the_listing_missed_are_ok(lagging: LaggingAdmin) -> None:
    specs = [TopicSpec("p.commands", 4, copartitioned=True)]
    report = admin.ensure_topics(object(), specs, timeout_s=5)  # type: ignore[arg-type]
    assert report.ok and report.existing == ["p.commands"] and report.warnings == []


def test_a_topic_that_never_appears_is_reported_missing_after_the_timeout() -> None:
    client = LaggingAdmin({}, lag=0)
    with pytest.raises(KeyError, match="no such topic"):
        admin._describe(client, ["p.gone"], timeout_s=0.5)  # type: ignore[arg-type]
