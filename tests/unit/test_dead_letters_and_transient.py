"""The one dead-letter builder (kafka/dead_letters.py) and the quiet handling of transient
trouble (kafka/transient.py): plain values, no broker."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest
from confluent_kafka import KafkaError, KafkaException

from orchestrator.codec import wire
from orchestrator.kafka.dead_letters import MAX_REASON, dead_letter, describe
from orchestrator.kafka.transient import Backoff, QuietLog, is_transient, retry_transient


@dataclass
class AttributeRecord:  # the processor's intake Message: attributes
    topic: str = "p.commands"
    partition: int = 2
    offset: int = 41
    key: bytes | None = b"wf-1"
    value: bytes | None = b"\x00bad"


class ConfluentLike:  # a confluent-kafka Message: methods
    def __init__(self, value: bytes | None, key: bytes | None = b"k") -> None:
        self._value, self._key = value, key

    def topic(self) -> str:
        return "p.tasks.x"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return 7

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value


def test_a_dead_letter_carries_where_the_record_was_what_it_was_and_why():
    key, value = dead_letter(AttributeRecord(), "not Avro", "processor", failed_at=1_000)
    letter = wire.decode_dead_letter(value)
    assert key == b"wf-1"
    assert (letter.topic, letter.partition, letter.offset) == ("p.commands", 2, 41)
    assert (letter.key, letter.value, letter.reason) == (b"wf-1", b"\x00bad", "not Avro")
    assert (letter.failed_at, letter.component) == (1_000, "processor")


def test_confluent_messages_and_tombstones_are_built_the_same_way():
    key, value = dead_letter(ConfluentLike(None), "a tombstone", "worker:w-1")
    letter = wire.decode_dead_letter(value)
    assert (letter.topic, letter.offset, letter.value, key) == ("p.tasks.x", 7, None, b"k")
    assert describe(ConfluentLike(None)) == "p.tasks.x[0]@7"


def test_a_letter_always_fits_a_record_whatever_the_original():
    huge = b"\xff" * 999_000
    key, value = dead_letter(ConfluentLike(huge, key=b"k" * 100_000), "x" * 50_000, "gate")
    letter = wire.decode_dead_letter(value)
    assert len(value) < 20_000
    assert letter.value is None and letter.key is None and key is None
    assert "the original value, 999000 bytes, is not copied" in letter.reason
    assert "the original key, 100000 bytes, is not copied" in letter.reason
    assert len(letter.reason) < MAX_REASON + 300


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_recurring_condition_is_logged_once_then_a_minute_later_then_when_over(caplog):
    clock = Clock()
    quiet = QuietLog(logging.getLogger("t"), clock=clock)
    with caplog.at_level(logging.INFO, "t"):
        for _ in range(100):
            quiet.warning("leader", "no leader for %s", "p[0]")
            clock.now += 0.1
        clock.now += 60
        quiet.warning("leader", "no leader for %s", "p[0]")
        quiet.clear("leader", "leader back for %s", "p[0]")
        quiet.clear("leader", "never logged twice")
        quiet.warning("store", "store down")
        quiet.clear("store", "store back")  # a message without arguments
        quiet.warning("other", "other down")
        quiet.clear("other")
    assert [r.getMessage() for r in caplog.records] == [
        "no leader for p[0] (retrying; logged once)",
        "no leader for p[0] (still, 101 times in 70 s)",
        "leader back for p[0] after 101 occurrences in 70 s",
        "store down (retrying; logged once)",
        "store back after 1 occurrences in 0 s",
        "other down (retrying; logged once)",
        "other: recovered after 1 occurrences in 0 s",
    ]


def test_backoff_doubles_up_to_its_cap_and_resets():
    backoff = Backoff(first=0.1, cap=0.5)
    assert [backoff.delay() for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    backoff.reset()
    assert backoff.delay() == 0.1


def test_transient_kafka_errors_are_told_apart():
    assert is_transient(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART))
    assert is_transient(KafkaError(KafkaError.NOT_LEADER_FOR_PARTITION))
    assert is_transient(KafkaError(KafkaError._TRANSPORT))
    assert not is_transient(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
    assert not is_transient(None)


def test_retry_transient_waits_out_a_transient_failure_and_raises_any_other():
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise KafkaException(KafkaError(KafkaError.LEADER_NOT_AVAILABLE))
        return "ok"

    quiet = QuietLog(logging.getLogger("t"))
    assert retry_transient(flaky, quiet, "committed") == "ok"
    assert len(calls) == 3 and not quiet.active("committed")

    def broken() -> None:
        raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))

    with pytest.raises(KafkaException):
        retry_transient(broken, quiet, "x")
