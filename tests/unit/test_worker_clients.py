"""Shared Kafka client configs: the Java-compatible partitioner is not optional."""

from __future__ import annotations

import pytest

from orchestrator.kafka.clients import consumer_config, murmur2, murmur2_partition, producer_config
from orchestrator.kafka.security import KafkaAccess


def _signed(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


@pytest.mark.parametrize(
    ("data", "expected"),
    [  # the vectors of Kafka's own UtilsTest.testMurmur2
        (b"21", -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"a-little-bit-longer-string", -1486304829),
        (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        (b"abc", 479470107),
    ],
)
def test_murmur2_matches_the_java_client(data: bytes, expected: int) -> None:
    assert _signed(murmur2(data)) == expected


def test_partition_is_the_positive_hash_modulo_the_count() -> None:
    assert murmur2_partition("21", 4) == (-973932308 & 0x7FFFFFFF) % 4
    assert murmur2_partition(b"21", 4) == murmur2_partition("21", 4)


def test_producer_config_is_idempotent_and_java_partitioned() -> None:
    config = producer_config(KafkaAccess("k:9092"), client_id="w1")
    assert config["partitioner"] == "murmur2_random"
    assert config["enable.idempotence"] is True
    assert config["acks"] == "all"
    assert config["linger.ms"] == 5


def test_producer_config_refuses_another_partitioner() -> None:
    with pytest.raises(ValueError, match="murmur2_random"):
        producer_config(KafkaAccess("k:9092"), extra={"partitioner": "consistent_random"})


def test_consumer_config_leaves_offset_storing_to_the_application() -> None:
    config = consumer_config(KafkaAccess("k:9092"), "g")
    assert config["enable.auto.offset.store"] is False
    assert config["auto.offset.reset"] == "earliest"
    assert config["partition.assignment.strategy"] == "cooperative-sticky"
