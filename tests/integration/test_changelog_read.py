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
from orchestrator.engine.statecodec import decode_state, encode_state
from orchestrator.kafka.admin import delete_topics, ensure_topics
from orchestrator.kafka.aio import producer_config
from orchestrator.kafka.topics import TopicSpec
from orchestrator.settings import load_settings
from tests.readmodel_fixtures import started

pytestmark = pytest.mark.kafka


@pytest.fixture
def topic() -> Iterator[tuple[str, str]]:
    bootstrap = load_settings()  # the cluster and its security, from the environment
    name = f"it-changelog-{uuid.uuid4().hex[:10]}"
    report = ensure_topics(bootstrap, [TopicSpec(name, 3, {"cleanup.policy": "compact"})], 15.0)
    assert report.ok, report.errors
    yield bootstrap, name
    delete_topics(bootstrap, [name])


def record(wid: str, seq: int) -> bytes:
    return encode_state(dataclasses.replace(evolve(None, started(wid)), seq=seq))


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
        producer.produce(name, key=wid.encode(), value=record(wid, seq), partition=partition)
    assert producer.flush(10) == 0

    read = read_changelog(bootstrap, name, {0, 1})

    found = read.executions
    assert {wid: f.head.seq for wid, f in found.items() if f.head} == {"wf-a": 7, "wf-b": 2}
    assert found["wf-b"].partition == 1
    # the record itself, undecoded until the processor needs it
    assert decode_state(found["wf-a"].value).seq == 7  # type: ignore[arg-type]
    assert read.records == 4 and not read.unreadable


def test_a_tombstone_removes_the_execution_and_a_later_state_brings_it_back(
    topic: tuple[str, str],
) -> None:
    """Retention tombstones a finished execution; a restart of it writes a newer state."""
    bootstrap, name = topic
    producer = Producer(producer_config(bootstrap))
    for wid, value in [
        ("gone", record("gone", 4)),
        ("gone", None),
        ("back", record("back", 4)),
        ("back", None),
        ("back", record("back", 9)),
    ]:
        producer.produce(name, key=wid.encode(), value=value, partition=0)
    assert producer.flush(10) == 0

    found = read_changelog(bootstrap, name, {0}).executions

    assert found["gone"].head is None and found["gone"].value is None
    assert found["back"].head is not None and found["back"].head.seq == 9


def test_garbage_in_the_changelog_is_reported_not_fatal(topic: tuple[str, str]) -> None:
    bootstrap, name = topic
    producer = Producer(producer_config(bootstrap))
    producer.produce(name, key=b"bad", value=b"\x80garbage", partition=0)
    producer.produce(name, key=b"good", value=record("good", 3), partition=0)
    assert producer.flush(10) == 0

    read = read_changelog(bootstrap, name, {0})

    assert set(read.executions) == {"good"}
    [(partition, offset, key, reason)] = read.unreadable
    assert (partition, offset, key) == (0, 0, b"bad")
    assert "no OSC1 head" in reason


def test_an_empty_changelog_reads_as_no_state(topic: tuple[str, str]) -> None:
    bootstrap, name = topic
    read = read_changelog(bootstrap, name, {0, 1, 2}, timeout_s=10)
    assert read.executions == {} and read.records == 0
