"""Shared confluent-kafka client configurations: every producer and consumer of the project.

Producers (``producer_config``):
- ``partitioner = murmur2_random``: the Java client's partitioner (also aiokafka's and faust's).
  librdkafka's default (``consistent_random``, CRC32) would put a keyed record on a different
  partition than the processor (faust) expects, so a worker's result for workflow W could land
  on a partition whose processor does not own W. Every keyed write to the commands topic MUST
  use this config; ``murmur2_partition`` computes the same partition in Python (tests, routing).
- idempotent, ``acks=all``: a retried send never duplicates nor reorders within a partition.
- ``linger.ms=5``: batches the results of a busy worker without adding visible latency.
- compression ``lz4``, measured on the local broker with 20k ReportTaskResult records of ~250
  bytes (Avro, JSON output inside): throughput the same within noise (19k-34k msg/s for both,
  run to run), bytes sent 3x fewer with lz4 (2.0 MB vs 5.9 MB). Less disk on the log of
  record for nothing, so lz4.

Consumers (``consumer_config``):
- ``enable.auto.offset.store = false``: the application stores an offset only after the work
  for the record is done (for a worker: the result is delivered), and librdkafka's auto-commit
  commits only stored offsets. At-least-once, with commits off the hot path.
- ``auto.offset.reset = earliest``: a new group (the first worker of a task type) must see the
  tasks dispatched before it started.
- ``fetch.wait.max.ms = 100``: how long the broker may hold an empty fetch. It does not delay a
  hand-off: with ``fetch.min.bytes = 1`` the broker answers as soon as one record arrives
  (measured here, a record produced every 20 ms to an idle consumer: p50 1.4 ms with 10, 100
  and 500). What it sets is how often an idle consumer asks: every 10 ms made each idle worker
  loop send ~100 fetch requests/s, broker CPU on a machine the broker shares with us.
- ``cooperative-sticky`` assignment: a worker joining or leaving does not stop every other
  worker of the group (no stop-the-world rebalance).

Group membership of the services that own partitions (``service_membership``: the processor's
intake, the gate, the projector; issue #15, measured in docs/operations.md):
- ``session.timeout.ms = 6000``, the shortest a stock broker accepts
  (``group.min.session.timeout.ms``): a member killed with -9 is dropped from its group, and its
  partitions handed to the survivors, 6 s after its last heartbeat. librdkafka heartbeats from
  its own thread, so a busy Python process does not miss them; ``heartbeat.interval.ms = 1000``
  tells the survivors of a rebalance within a second.
- ``group.instance.id`` (static membership, KIP-345) when the process has an instance id
  (``ORCHESTRATOR_INSTANCE_ID``, set per component by ``orchestrator serve``): a restarted
  process with the same id takes its partitions back as soon as it joins, with no rebalance and
  no wait for the dead member's session. Two live processes must never share an id: the broker
  fences the older one, and ``exit_if_fatal`` ends it with ``EXIT_FENCED`` (the supervisor does
  not restart a fenced child, so two processes never fence each other in turn). A static member
  does not leave its group on a clean stop either: its partitions move 6 s later.
- A static member can also fence *itself* (librdkafka issue #3437, met on a three-broker cluster
  when the broker hosting the group coordinator is killed, issue #19): the coordinator is
  unreachable for longer than the session (the cluster notices a dead broker after 9 s),
  librdkafka declares its own session timed out and rejoins under a new member id, and the
  broker then fences a request still carrying the old one. No other process uses the id, so a
  fence that follows a session timeout of this process (within ``SELF_FENCE_WINDOW_S``) exits
  with ``EXIT_FATAL``: the supervisor restarts the process, which rejoins under its id.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.kafka.security import KafkaAccess, access_of

if TYPE_CHECKING:
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient

    from orchestrator.settings import Settings

    Kafka = Settings | KafkaAccess  # where the cluster is, and its security

PARTITIONER = "murmur2_random"
# How long the broker may hold an empty fetch of a reader that assigns its partitions once and
# then follows them (followers of small topics, the API's rejections): an answer comes as soon as
# a record arrives (fetch.min.bytes = 1), so this only sets how often an idle reader asks: at
# 10 ms the API's rejection reader made ~100 fetches/s, 0.7 % of a core doing nothing (issue #18).
# Not longer: librdkafka has one fetch in flight per broker, and a partition that becomes
# fetchable while one is held (just assigned) waits for it (measured: 660 ms at 500).
IDLE_READER_FETCH_WAIT_MS = 100
SESSION_TIMEOUT_MS = 6_000
HEARTBEAT_INTERVAL_MS = 1_000
EXIT_FATAL = 70  # EX_SOFTWARE, as every crash-only exit of the services
EXIT_FENCED = 78  # EX_CONFIG: another live process uses this process's instance id
DEFAULT_COMPRESSION = "lz4"
_LIBRDKAFKA_LOGGER = "orchestrator.kafka.librdkafka"
SELF_FENCE_WINDOW_S = 60.0


class _LibrdkafkaLog:
    """Where librdkafka's log lines go (``logger`` of every client): ``logging``, after noting
    when one said that a group session of this process timed out (facility SESSTMOUT) -
    whatever the log level."""

    last_session_timeout: float | None = None

    def __init__(self) -> None:
        self.logger = logging.getLogger(_LIBRDKAFKA_LOGGER)

    def log(self, level: int, msg: str, *args: Any, **kwargs: Any) -> None:
        if args and args[0] == "SESSTMOUT":  # librdkafka logs ("%s [%s] %s", fac, name, text)
            _LibrdkafkaLog.last_session_timeout = time.monotonic()
        self.logger.log(level, msg, *args, **kwargs)


_LIBRDKAFKA_LOG = _LibrdkafkaLog()


def session_timed_out_recently(window_s: float = SELF_FENCE_WINDOW_S) -> bool:
    last = _LibrdkafkaLog.last_session_timeout
    return last is not None and time.monotonic() - last < window_s


def client_config(kafka: Kafka, **props: Any) -> dict[str, Any]:
    """Bootstrap servers, TLS and SASL (orchestrator/kafka/security.py), librdkafka's log
    routed to ``logging``, then ``props``: the base of every client of the project."""
    config = access_of(kafka).client_config(logger=_LIBRDKAFKA_LOG)
    config.update(props)
    return config


MAX_IN_FLIGHT = 1


def producer_config(
    kafka: Kafka,
    *,
    client_id: str = "orchestrator",
    compression: str = DEFAULT_COMPRESSION,
    linger_ms: int = 5,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The project's producer settings; ``extra`` overrides (never the partitioner silently)."""
    config = client_config(
        kafka,
        **{
            "client.id": client_id,
            "enable.idempotence": True,
            "acks": "all",
            # One produce request in flight per broker: with several, a new producer's first
            # batch to a partition that fails retriably (a leader change, a topic not applied
            # yet) while its next batch is accepted is lost *silently*, idempotence and acks=all
            # notwithstanding (KAFKA-15591; the broker fix, Kafka 4.5, covers only partitions
            # that never held a record). Every process starts a new producer, so every process
            # is exposed in the first moments after a restart (docs/operations.md).
            "max.in.flight.requests.per.connection": MAX_IN_FLIGHT,
            "linger.ms": linger_ms,
            "compression.type": compression,
            "partitioner": PARTITIONER,
        },
    )
    config.update(extra or {})
    if config["partitioner"] != PARTITIONER:
        raise ValueError(
            f"partitioner must be {PARTITIONER} (Java-compatible), got {config['partitioner']!r}"
        )
    return config


def consumer_config(
    kafka: Kafka,
    group_id: str,
    *,
    client_id: str = "orchestrator",
    cooperative: bool = True,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The project's consumer settings: store offsets yourself (``consumer.store_offsets``)."""
    config = client_config(
        kafka,
        **{
            "group.id": group_id,
            "client.id": client_id,
            "enable.auto.commit": True,
            "auto.commit.interval.ms": 1000,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 100,
            "partition.assignment.strategy": "cooperative-sticky" if cooperative else "range",
        },
    )
    config.update(extra or {})
    return config


def service_membership(instance_id: str | None) -> dict[str, Any]:
    """Consumer settings of a service's group membership (see the module docstring)."""
    config: dict[str, Any] = {
        "session.timeout.ms": SESSION_TIMEOUT_MS,
        "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
    }
    if instance_id:
        config["group.instance.id"] = instance_id
    return config


def is_fenced(error: Any) -> bool:
    """A fatal error because another consumer joined with this one's group.instance.id."""
    return "fenced" in str(error).lower()


def exit_if_fatal(error: Any, who: str) -> None:
    """End the process when a consumer reports a fatal error (the client is unusable then).

    librdkafka answers a poll with ``_FATAL`` once it is fenced (another process joined with
    its group.instance.id): polling on would never yield a record again. Exits without
    committing anything, like every crash-only exit here; a fenced process exits with
    ``EXIT_FENCED`` so that a supervisor leaves it down instead of fencing the other one.
    """
    from confluent_kafka import KafkaError

    if error is None or error.code() != KafkaError._FATAL:
        return
    fenced = is_fenced(error)
    self_fenced = fenced and session_timed_out_recently()
    if self_fenced:
        why = (
            " (fenced after its own group session timed out: the group coordinator was "
            "unreachable, e.g. its broker died; exiting to be restarted under the same id)"
        )
    elif fenced:
        why = " (another live process uses this instance id: give each its own)"
    else:
        why = ""
    logging.getLogger(__name__).critical("%s: fatal consumer error, exiting%s: %s", who, why, error)
    logging.shutdown()
    os._exit(EXIT_FENCED if fenced and not self_fenced else EXIT_FATAL)


def cached_lag(consumer: Any, topic: str, positions: Mapping[int, int]) -> dict[int, int]:
    """Records between each position and its partition's end as of the last fetch response
    (librdkafka's cached high watermark: no request). Partitions not fetched yet are left out:
    their lag is unknown, not zero."""
    from confluent_kafka import KafkaException, TopicPartition

    lag: dict[int, int] = {}
    for partition, position in positions.items():
        try:
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), cached=True
            )
        except KafkaException:
            continue
        if high >= 0 and position >= 0:
            lag[partition] = max(0, high - position)
    return lag


def new_producer(kafka: Kafka, client_id: str, extra: Mapping[str, Any] | None = None) -> Producer:
    from confluent_kafka import Producer

    return Producer(producer_config(kafka, client_id=client_id, extra=extra))


def new_consumer(
    kafka: Kafka, group_id: str, client_id: str, extra: Mapping[str, Any] | None = None
) -> Consumer:
    from confluent_kafka import Consumer

    return Consumer(consumer_config(kafka, group_id, client_id=client_id, extra=extra))


def new_reader(kafka: Kafka, **props: Any) -> Consumer:
    """A consumer with exactly ``props`` besides the connection (readers that assign() their
    partitions, own groups that commit by hand ...)."""
    from confluent_kafka import Consumer

    return Consumer(client_config(kafka, **props))


def new_admin(kafka: Kafka, **props: Any) -> AdminClient:
    from confluent_kafka.admin import AdminClient

    return AdminClient(client_config(kafka, **props))


# -- Java-compatible partitioning ------------------------------------------------------------

_M = 0x5BD1E995
_SEED = 0x9747B28C
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash (``org.apache.kafka.common.utils.Utils.murmur2``), as unsigned."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = (h * _M) & _MASK
        h ^= k
    tail = length % 4
    if tail == 3:
        h ^= data[whole + 2] << 16
    if tail >= 2:
        h ^= data[whole + 1] << 8
    if tail >= 1:
        h ^= data[whole]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def murmur2_partition(key: bytes | str, partitions: int) -> int:
    """The partition the Java client (and ``murmur2_random``) picks for ``key``."""
    raw = key.encode("utf-8") if isinstance(key, str) else key
    return (murmur2(raw) & 0x7FFFFFFF) % partitions


def take(consumer: Any, max_records: int, timeout_s: float) -> list[Any]:
    """Up to `max_records` records, returning as soon as ONE is there (or after `timeout_s`).

    confluent-kafka's ``consume(num_messages=N, timeout=T)`` waits until N records have arrived
    or T has passed (measured here: a lone record waited the whole timeout), which adds T to
    every hop at low load. ``poll`` wakes on the first record; whatever else is already
    buffered is then drained without waiting.
    """
    first = consumer.poll(timeout_s)
    if first is None:
        return []
    if max_records <= 1:
        return [first]
    return [first, *consumer.consume(num_messages=max_records - 1, timeout=0)]
