"""The one topic registry: every topic's name, key, partitions and configs.

| topic                       | key                              | cleanup / retention            |
|-----------------------------|----------------------------------|--------------------------------|
| <p>.commands                | root workflow id                 | delete, 7 days                 |
| <p>.events                  | root workflow id                 | delete, EVENTS_RETENTION_MS    |
|                             |                                  | (-1 = forever), never compacted|
| <p>.definitions             | "workflow:<name>:<version>" or   | compact                        |
|                             | "task:<name>"                    |                                |
| <p>.dlq                     | the undecodable record's key     | delete, 30 days                |
| <p>.rejections              | root workflow id                 | delete, 30 days                |
| <p>.tasks[.<domain>].<type> | task id                          | delete, 7 days                 |
| <p>.presence                | [task type, domain, worker id]   | compact + delete, 1 day        |
| <p>.gate                    | task definition name             | delete, 7 days (ADR 0006)      |
| <p>.gate-status             | task definition name             | compact                        |
| <p>.event-queues            | event: conductor:<workflow>:<q>  | delete, 7 days (ADR 0009)      |
| <app id>-executions-changelog | workflow id                    | compact, 1-minute segments     |
| <p>.status                  | instance id, else member id      | compact + delete, 1 day        |

Commands and events are co-partitioned (same partition count, same key), so the processor that
owns partition N of the commands owns partition N of the events. Changing the partition count
of an existing deployment re-routes workflows and is refused by ``ensure_topics``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.settings import Settings

DEFAULT_PREFIX = "orchestrator"
MAX_TOPIC_LENGTH = 249  # Kafka's limit
DAY_MS = 24 * 60 * 60 * 1000
COMMANDS_RETENTION_MS = 7 * DAY_MS
TASKS_RETENTION_MS = 7 * DAY_MS
DLQ_RETENTION_MS = 30 * DAY_MS
REJECTIONS_RETENTION_MS = 30 * DAY_MS
PRESENCE_RETENTION_MS = DAY_MS
GATE_RETENTION_MS = 7 * DAY_MS  # as long as a task topic keeps a task nobody took
EVENT_QUEUES_RETENTION_MS = 7 * DAY_MS
PRESENCE_SEGMENT_MS = 60 * 60 * 1000
CHANGELOG_SEGMENT_MS = 60 * 1000
STATUS_RETENTION_MS = DAY_MS  # heartbeats of services gone for a day are forgotten

# Characters kept verbatim in a topic name segment. "." is legal in Kafka names but separates our
# segments (a domain from a type), so a "." inside a task type is escaped like any other char.
_SEGMENT_SAFE = re.compile(r"[A-Za-z0-9_-]+")
_HASH_CHARS = 8


def topic_segment(raw: str, max_length: int = MAX_TOPIC_LENGTH) -> str:
    """``raw`` as one legal, collision-resistant topic name segment.

    Names made only of [A-Za-z0-9_-] that fit are kept as they are (the common case, and
    readable). Any other name has each illegal character replaced by "_" and gets "-" plus the
    first 8 hex chars of the SHA-256 of the original name, so "a b" and "a/b" stay distinct.
    Over-long names are cut and hashed the same way.
    """
    if not raw:
        raise ValueError("a topic name segment cannot be empty")
    if max_length < _HASH_CHARS + 2:
        raise ValueError(f"no room for a topic segment ({max_length} chars left)")
    if _SEGMENT_SAFE.fullmatch(raw) and len(raw) <= max_length:
        return raw
    digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:_HASH_CHARS]
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", raw)[: max_length - _HASH_CHARS - 1]
    return f"{cleaned}-{digest}"


@dataclass(frozen=True, slots=True)
class TopicNames:
    """Topic names under one prefix (``TopicNames.from_settings(settings).events``)."""

    prefix: str = DEFAULT_PREFIX

    @classmethod
    def from_settings(cls, settings: Settings) -> TopicNames:
        return cls(settings.topic_prefix)

    @property
    def commands(self) -> str:
        return f"{self.prefix}.commands"

    @property
    def events(self) -> str:
        return f"{self.prefix}.events"

    @property
    def processor_app_id(self) -> str:
        """The processors' faust app id: their consumer group and internal topic prefix."""
        return f"{self.prefix}-processor"

    @property
    def state_changelog(self) -> str:
        """The processors' state changelog (named as the faust table it once was: ADR 0003)."""
        return f"{self.processor_app_id}-executions-changelog"

    @property
    def definitions(self) -> str:
        return f"{self.prefix}.definitions"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}.dlq"

    @property
    def rejections(self) -> str:
        return f"{self.prefix}.rejections"

    @property
    def presence(self) -> str:
        """Who polled which task queue when (``orchestrator.flow.presence``; task domains)."""
        return f"{self.prefix}.presence"

    @property
    def gate(self) -> str:
        """Dispatches of rate/concurrency-limited task types and their notices (ADR 0006)."""
        return f"{self.prefix}.gate"

    @property
    def gate_status(self) -> str:
        """The task gate's per-type counts (held, in flight), for metrics (ADR 0006)."""
        return f"{self.prefix}.gate-status"

    @property
    def status(self) -> str:
        """Heartbeats of the processors, gates and projectors: what each serves (health)."""
        return f"{self.prefix}.status"

    @property
    def gate_group(self) -> str:
        """The consumer group of the gate processes: one owner per gate partition."""
        return f"{self.prefix}-gate"

    @property
    def event_queues(self) -> str:
        """Conductor's internal event queues (EVENT sink ``conductor``): key = the event name
        ``conductor:<workflow>:<queue>``, value = the message's JSON payload (ADR 0009)."""
        return f"{self.prefix}.event-queues"

    @property
    def event_handlers_group(self) -> str:
        """The consumer group of the event-handler processes (orchestrator/events/)."""
        return f"{self.prefix}-event-handlers"

    @property
    def tasks_prefix(self) -> str:
        """Every task topic starts with this (for a consumer subscribing by pattern)."""
        return f"{self.prefix}.tasks."

    def task(self, task_type: str, domain: str | None = None) -> str:
        head = self.tasks_prefix
        if domain:
            head += topic_segment(domain, MAX_TOPIC_LENGTH - len(head) - _HASH_CHARS - 3) + "."
        return head + topic_segment(task_type, MAX_TOPIC_LENGTH - len(head))


def task_topic(task_type: str, domain: str | None = None, *, prefix: str = DEFAULT_PREFIX) -> str:
    """``<prefix>.tasks.<type>`` or ``<prefix>.tasks.<domain>.<type>``, sanitised."""
    return TopicNames(prefix).task(task_type, domain)


def definition_key(kind: str, name: str, version: int | None = None) -> str:
    """Key on the definitions topic: ``workflow:<name>:<version>``, ``task:<name>`` or
    ``event_handler:<name>``."""
    if kind == "workflow":
        if version is None:
            raise ValueError("a workflow definition key needs a version")
        return f"workflow:{name}:{version}"
    if kind in ("task", "event_handler"):
        return f"{kind}:{name}"
    raise ValueError(f"unknown definition kind {kind!r}")


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)
    replication_factor: int = 1
    # Topics whose partition count is part of the routing (co-partitioned): a mismatch on an
    # existing topic is an error, not a warning.
    copartitioned: bool = False


def _base_config(settings: Settings, policy: str, retention_ms: int | None) -> dict[str, str]:
    config = {
        "cleanup.policy": policy,
        "min.insync.replicas": str(settings.effective_min_insync_replicas),
    }
    if retention_ms is not None:
        config["retention.ms"] = str(retention_ms)
    return config


def core_topics(settings: Settings) -> list[TopicSpec]:
    """The topics every deployment has (task topics come from the registered definitions)."""
    names = TopicNames.from_settings(settings)
    rf = settings.replication_factor
    events_config = _base_config(settings, "delete", settings.events_retention_ms)
    events_config["retention.bytes"] = "-1"
    return [
        TopicSpec(
            names.commands,
            settings.partitions,
            _base_config(settings, "delete", COMMANDS_RETENTION_MS),
            rf,
            copartitioned=True,
        ),
        # The log of record: size-unbounded, never compacted (design rule 5).
        TopicSpec(names.events, settings.partitions, events_config, rf, copartitioned=True),
        # One partition: definitions are few, and one total order of registrations keeps
        # "latest version" unambiguous for every reader.
        TopicSpec(names.definitions, 1, _base_config(settings, "compact", None), rf),
        TopicSpec(
            names.dlq,
            settings.partitions,
            _base_config(settings, "delete", DLQ_RETENTION_MS),
            rf,
        ),
        TopicSpec(
            names.rejections,
            settings.partitions,
            _base_config(settings, "delete", REJECTIONS_RETENTION_MS),
            rf,
        ),
        # Conductor's internal event queues, one topic keyed by queue (ADR 0009).
        TopicSpec(
            names.event_queues,
            settings.partitions,
            _base_config(settings, "delete", EVENT_QUEUES_RETENTION_MS),
            rf,
        ),
        # The processors' state changelog: a disposable, compacted cache of the events topic,
        # co-partitioned with the commands (ADR 0003); finished executions are tombstoned after
        # their retention (ADR 0008).
        TopicSpec(
            names.state_changelog,
            settings.partitions,
            changelog_config(settings),
            rf,
            copartitioned=True,
        ),
        status_topic_spec(settings),
    ]


def changelog_config(settings: Settings) -> dict[str, str]:
    """Compacted, and compacted soon: a processor taking a partition over reads it whole, so
    what it reads should be the live executions, not the writes of the last week. Only closed
    segments are cleaned, so segments roll every minute (or 64 MB); the cleaner takes a
    partition once a tenth of it is superseded; tombstones stay an hour for readers."""
    config = _base_config(settings, "compact", None)
    config.update(
        {
            "segment.ms": str(CHANGELOG_SEGMENT_MS),
            "segment.bytes": str(64 * 1024 * 1024),
            "min.cleanable.dirty.ratio": "0.1",
            "delete.retention.ms": str(60 * 60 * 1000),
        }
    )
    return config


def status_topic_spec(settings: Settings) -> TopicSpec:
    """One partition (a record every few seconds per service process), compacted: a reader
    wants the last heartbeat per process; deleted after a day, so processes gone for good
    vanish (orchestrator.health)."""
    config = _base_config(settings, "compact,delete", STATUS_RETENTION_MS)
    config["segment.ms"] = str(PRESENCE_SEGMENT_MS)  # roll often: only closed segments clean
    return TopicSpec(
        TopicNames.from_settings(settings).status, 1, config, settings.replication_factor
    )


def presence_topic_spec(settings: Settings) -> TopicSpec:
    """One partition (a handful of records per live worker and queue), compacted: a reader
    wants the last poll per key. Also deleted after a day, so workers that went away vanish."""
    config = _base_config(settings, "compact,delete", PRESENCE_RETENTION_MS)
    config["segment.ms"] = str(PRESENCE_SEGMENT_MS)  # roll often: only closed segments clean
    return TopicSpec(
        TopicNames.from_settings(settings).presence, 1, config, settings.replication_factor
    )


def gate_topic_specs(settings: Settings) -> list[TopicSpec]:
    """The task gate's topics (ADR 0006), ensured by the gate and by a processor before its
    first gated dispatch. The gate topic is keyed by task definition name. Keep its partition
    count once created: a change would give a type a second owner while the first still holds
    some of its tasks."""
    names = TopicNames.from_settings(settings)
    rf = settings.replication_factor
    return [
        TopicSpec(
            names.gate, settings.partitions, _base_config(settings, "delete", GATE_RETENTION_MS), rf
        ),
        TopicSpec(names.gate_status, 1, _base_config(settings, "compact", None), rf),
    ]


def task_topic_spec(settings: Settings, task_type: str, domain: str | None = None) -> TopicSpec:
    return TopicSpec(
        TopicNames.from_settings(settings).task(task_type, domain),
        settings.partitions,
        _base_config(settings, "delete", TASKS_RETENTION_MS),
        settings.replication_factor,
    )
