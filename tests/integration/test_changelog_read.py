"""The processor's own read of its state changelog, against the real broker.

Recovery after a takeover must see every state the previous owner wrote, keep the newest per
execution whatever order the records arrived in, and only read the partitions it was given.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Producer

from orchestrator.domain.evolve import evolve
from orchestrator.engine.changelog import read_changelog
from orchestrator.engine.statecodec import TableEntry, encode_entry
from orchestrator.kafka.admin import delete_topics, ensure_topics
from orchestrator.kafka.aio import producer_config
from orchestrator.kafka.topics import TopicSpec
from orchestrator.settings import load_settings
from tests.readmodel_fixtures import started

pytestmark = pytest.mark.kafka


@pytest.fixture
def topic() -> Iterator[tuple[str, str]]:
    bootstrap = load_settings().kafka_bootstrap
    name = f"it-changelog-{uuid.uuid4().hex[:10]}"
    report = ensure_topics(bootstrap, [TopicSpec(name, 3, {"cleanup.policy": "compact"})], 15.0)
    assert report.ok, report.errors
    yield bootstrap, name
    delete_topics(bootstrap, [name])


def entry(wid: str, partition: int, seq: int) -> TableEntry:
    state = dataclasses.replace(evolve(None, started(wid)), seq=seq)
    return TableEntry(partition=partition, state=state)


def test_reads_the_newest_state_per_execution_of_the_given_partitions(
    topic: tuple[str, str],
) -> None:
    bootstrap, name = topic
    producer = Producer(producer_config(bootstrap))
    writes = [
        ("wf-a", 0, 3),
        ("wf-a", 0, 7),
        ("wf-a", 0, 5),  # a zombie's late write: older than what is already there
        ("wf-b", 1, 2),
        ("wf-c", 2, 9),  # a partition this processor was not given
    ]
    for wid, partition, seq in writes:
        producer.produce(
            name,
            key=wid.encode(),
            value=encode_entry(entry(wid, partition, seq)),
            partition=partition,
        )
    assert producer.flush(10) == 0

    blobs: dict[str, bytes] = {}
    states = read_changelog(bootstrap, name, {0, 1}, blobs=blobs)

    assert {wid: e.state.seq for wid, e in states.items()} == {"wf-a": 7, "wf-b": 2}
    assert states["wf-b"].partition == 1
    # the record each kept entry came from, for the processor to keep finished ones as bytes
    assert blobs == {wid: encode_entry(e) for wid, e in states.items()}


def test_an_empty_changelog_reads_as_no_state(topic: tuple[str, str]) -> None:
    bootstrap, name = topic
    assert read_changelog(bootstrap, name, {0, 1, 2}, timeout_s=10) == {}
