"""Create and describe the registry's topics with confluent-kafka's AdminClient.

``ensure_topics`` is idempotent: missing topics are created, existing ones are left alone and
only compared with their spec. A partition-count mismatch on a co-partitioned topic (commands,
events) is an error, because it silently re-routes workflows; any other drift is a warning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaError, KafkaException

# These are re-exported by confluent_kafka.admin but missing from its __all__.
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
    ConfigSource,
    NewTopic,
    ResourceType,
)

from orchestrator.kafka.clients import new_admin
from orchestrator.kafka.security import access_of
from orchestrator.kafka.topics import TopicSpec

if TYPE_CHECKING:
    from orchestrator.kafka.clients import Kafka

log = logging.getLogger(__name__)
DEFAULT_TIMEOUT_S = 10.0


class KafkaUnavailable(RuntimeError):
    """The broker could not be reached in time."""


@dataclass(frozen=True, slots=True)
class TopicDescription:
    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str]  # every effective config of the topic
    overrides: dict[str, str]  # the ones set on the topic itself (not broker defaults)


@dataclass(slots=True)
class EnsureReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def admin_client(kafka: Kafka, timeout_s: float = DEFAULT_TIMEOUT_S) -> AdminClient:
    """An AdminClient that fails fast with a clear message when the broker is unreachable."""
    client = new_admin(kafka, **{"socket.timeout.ms": int(timeout_s * 1000)})
    try:
        client.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        access = access_of(kafka)
        raise KafkaUnavailable(
            f"cannot reach Kafka at {access.bootstrap} ({access.security.protocol}) within "
            f"{timeout_s:g} s: is the stack up (make stack-up), are the credentials right? "
            f"[{_reason(exc)}]"
        ) from None
    return client


def ensure_topics(
    kafka: Kafka, specs: Sequence[TopicSpec], timeout_s: float = DEFAULT_TIMEOUT_S
) -> EnsureReport:
    """Create the missing topics of ``specs``; compare the existing ones with their spec."""
    client = admin_client(kafka, timeout_s)
    report = EnsureReport()
    present = set(client.list_topics(timeout=timeout_s).topics)
    missing = [s for s in specs if s.name not in present]
    raced = _create(client, missing, timeout_s, report) if missing else set()
    # A topic our listing did not show but the broker says exists (created meanwhile by
    # another process, or just created and not yet in the answering broker's metadata) is
    # compared with its spec too.
    existing = [s for s in specs if s.name in present or s.name in raced]
    report.existing.extend(s.name for s in existing)
    if existing:
        described = {d.name: d for d in _describe(client, [s.name for s in existing], timeout_s)}
        for spec in existing:
            _compare(spec, described[spec.name], report)
    return report


def describe_topics(
    kafka: Kafka, names: Iterable[str], timeout_s: float = DEFAULT_TIMEOUT_S
) -> list[TopicDescription]:
    """Partitions, replication and configs of existing topics (missing ones raise KeyError)."""
    return _describe(admin_client(kafka, timeout_s), list(names), timeout_s)


def delete_topics(
    kafka: Kafka, names: Iterable[str], timeout_s: float = DEFAULT_TIMEOUT_S
) -> list[str]:
    """Delete topics (tests clean up with this); returns the names actually deleted."""
    client = admin_client(kafka, timeout_s)
    present = set(client.list_topics(timeout=timeout_s).topics)
    doomed = [n for n in names if n in present]
    if not doomed:
        return []
    futures = client.delete_topics(doomed, operation_timeout=timeout_s, request_timeout=timeout_s)
    for future in futures.values():
        future.result()
    return doomed


def _create(
    client: AdminClient, specs: list[TopicSpec], timeout_s: float, report: EnsureReport
) -> set[str]:
    """Create ``specs``; the names that turned out to exist already."""
    new = [
        NewTopic(
            s.name,
            num_partitions=s.partitions,
            replication_factor=s.replication_factor,
            config=dict(s.config),
        )
        for s in specs
    ]
    futures = client.create_topics(new, operation_timeout=timeout_s, request_timeout=timeout_s)
    already: set[str] = set()
    for name, future in futures.items():
        try:
            future.result()
        except KafkaException as exc:
            # It exists after all (see ensure_topics): the caller compares it with its spec.
            if exc.args and exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                already.add(name)
                continue
            report.errors.append(f"{name}: cannot create: {_reason(exc)}")
        else:
            report.created.append(name)
            log.info("created topic %s", name)
    return already


def _describe(client: AdminClient, names: list[str], timeout_s: float) -> list[TopicDescription]:
    if not names:
        return []  # the client refuses an empty request
    deadline = time.monotonic() + timeout_s
    while True:  # a topic just created may not be in the answering broker's metadata yet
        metadata = client.list_topics(timeout=timeout_s).topics
        unknown = [n for n in names if n not in metadata or not metadata[n].partitions]
        if not unknown:
            break
        if time.monotonic() > deadline:
            raise KeyError(f"no such topic(s): {', '.join(unknown)}")
        time.sleep(0.2)
    configs = _describe_configs(client, names, timeout_s)
    result = []
    for name in names:
        partitions = metadata[name].partitions
        entries = configs[name]
        replicas = len(next(iter(partitions.values())).replicas) if partitions else 0
        result.append(
            TopicDescription(
                name=name,
                partitions=len(partitions),
                replication_factor=replicas,
                config={k: e.value for k, e in entries.items() if e.value is not None},
                overrides={
                    k: e.value
                    for k, e in entries.items()
                    if e.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value and e.value is not None
                },
            )
        )
    return result


def _describe_configs(client: AdminClient, names: list[str], timeout_s: float) -> dict[str, Any]:
    """Each topic's config entries. On a cluster, a topic just created may not be known yet to
    the broker that answers (it learns of it from the controller within moments): retry that
    within the timeout instead of failing a process's start."""
    deadline = time.monotonic() + timeout_s
    while True:
        resources = [ConfigResource(ResourceType.TOPIC, n) for n in names]
        futures = client.describe_configs(resources, request_timeout=timeout_s)
        try:
            return {resource.name: future.result() for resource, future in futures.items()}
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            unknown = (
                isinstance(error, KafkaError) and error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
            )
            if not unknown or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _compare(spec: TopicSpec, actual: TopicDescription, report: EnsureReport) -> None:
    if actual.partitions != spec.partitions:
        message = (
            f"{spec.name}: has {actual.partitions} partitions, the registry says {spec.partitions}"
        )
        if spec.copartitioned:
            report.errors.append(
                message + " (commands and events are co-partitioned: changing the count "
                "re-routes workflows; recreate the deployment or set PARTITIONS to match)"
            )
        else:
            report.warnings.append(message)
    for key, wanted in spec.config.items():
        have = actual.config.get(key)
        if have != wanted:
            report.warnings.append(f"{spec.name}: {key}={have}, the registry says {wanted}")


def _reason(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else None
    if isinstance(error, KafkaError):
        return f"{error.name()}: {error.str()}"
    return str(exc)
