"""Built-in executors of the system tasks with side effects: HTTP, EVENT, KAFKA_PUBLISH.

The engine dispatches these tasks to the task topics of those type names, like SIMPLE tasks;
``orchestrator worker --system`` runs the executors below on them, reporting like any worker.
"""

from __future__ import annotations

from typing import Any

from orchestrator.kafka.topics import TopicNames
from orchestrator.worker.registry import WorkerSpec, worker_task
from orchestrator.worker.system.event import EventExecutor
from orchestrator.worker.system.http import HostPolicy, HttpExecutor
from orchestrator.worker.system.kafka_publish import KafkaPublishExecutor
from orchestrator.worker.system.publish import Publisher
from orchestrator.worker.system.ssrf import AddressPolicy, parse_networks

HTTP_CONCURRENCY = 64  # coroutines: mostly waiting on the network
PUBLISH_CONCURRENCY = 8  # threads: each waits for its record's acknowledgement

__all__ = ["HostPolicy", "system_workers"]


def system_workers(settings: Any) -> list[WorkerSpec]:
    """Worker specs of the three executors, configured from ``settings``."""
    http = HttpExecutor(
        HostPolicy(settings.http_allow_hosts, settings.http_deny_hosts),
        AddressPolicy(parse_networks(settings.http_allow_networks)),
    )
    publisher = Publisher(settings, client_id=f"{settings.worker_id}:system")
    event = EventExecutor(publisher, TopicNames.from_settings(settings).event_queues)
    kafka = KafkaPublishExecutor(publisher)

    async def run_http(task_input: dict[str, Any]) -> Any:
        return await http(task_input)

    def run_event(task: Any) -> Any:
        return event(task)

    def run_kafka(task_input: dict[str, Any]) -> Any:
        return kafka(task_input)

    for function, name in ((run_http, "http"), (run_event, "event"), (run_kafka, "kafka_publish")):
        function.__module__ = f"orchestrator.worker.system.{name}"  # what `worker` prints
        function.__qualname__ = "executor"
    return [
        _spec(worker_task("HTTP", concurrency=HTTP_CONCURRENCY)(run_http)),
        _spec(worker_task("EVENT", concurrency=PUBLISH_CONCURRENCY)(run_event)),
        _spec(worker_task("KAFKA_PUBLISH", concurrency=PUBLISH_CONCURRENCY)(run_kafka)),
    ]


def _spec(function: Any) -> WorkerSpec:
    spec: WorkerSpec = function.__worker_task__
    return spec
