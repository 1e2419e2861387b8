"""The KAFKA_PUBLISH system task (Conductor's ``kafka_request``).

``kafka_request: {topic, value, key, headers, keySerializer, requestTimeoutMs,
bootStrapServers}``. The value is JSON-encoded (a string value becomes a JSON string, as
Conductor's ``writeValueAsString`` does); the key is text, or 4/8 big-endian bytes with the
Integer/Long key serializer; header values are text. Without ``bootStrapServers`` the record
goes to our own cluster. Output: empty (as Conductor's). Missing request, topic or value ->
FAILED with Conductor's messages; a failed send -> FAILED "Failed to invoke kafka task due to".
"""

from __future__ import annotations

import json
from typing import Any

from orchestrator.domain.expressions import to_text
from orchestrator.domain.statuses import TaskStatus
from orchestrator.worker.system.publish import DEFAULT_TIMEOUT_MS, Publisher, PublishError
from orchestrator.worker.task import Outcome, failed

MISSING_REQUEST = (
    "Missing Kafka request. Task input MUST have a 'kafka_request' key with KafkaTask.Input as "
    "value. See documentation for KafkaTask for required input parameters"
)
MISSING_TOPIC = "Missing Kafka topic. See documentation for KafkaTask for required input parameters"
MISSING_VALUE = (
    "Missing Kafka value.  See documentation for KafkaTask for required input parameters"
)
FAILED_TO_INVOKE = "Failed to invoke kafka task due to: "
_INT_SERIALIZER = "org.apache.kafka.common.serialization.IntegerSerializer"
_LONG_SERIALIZER = "org.apache.kafka.common.serialization.LongSerializer"


class KafkaPublishExecutor:
    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    def __call__(self, task_input: dict[str, Any]) -> Outcome:
        request = task_input.get("kafka_request")
        if not isinstance(request, dict):
            return failed(MISSING_REQUEST)
        topic = request.get("topic")
        if not topic or not str(topic).strip():
            return failed(MISSING_TOPIC)
        if request.get("value") is None:
            return failed(MISSING_VALUE)
        try:
            key = encode_key(request.get("key"), request.get("keySerializer"))
            self.publisher.publish(
                str(topic),
                json.dumps(request["value"], separators=(",", ":")).encode("utf-8"),
                key=key,
                headers={
                    str(k): to_text(v).encode("utf-8")
                    for k, v in (request.get("headers") or {}).items()
                },
                bootstrap=str(request.get("bootStrapServers") or "").strip() or None,
                timeout_ms=_timeout(request.get("requestTimeoutMs")),
            )
        except (PublishError, ValueError) as exc:
            return failed(FAILED_TO_INVOKE + str(exc))
        return Outcome(TaskStatus.COMPLETED, {})


def encode_key(key: Any, serializer: Any) -> bytes | None:
    if key is None:
        return None
    if serializer == _INT_SERIALIZER:
        return int(to_text(key)).to_bytes(4, "big", signed=True)
    if serializer == _LONG_SERIALIZER:
        return int(to_text(key)).to_bytes(8, "big", signed=True)
    return to_text(key).encode("utf-8")


def _timeout(raw: Any) -> int:
    try:
        return max(100, int(raw)) if raw is not None else DEFAULT_TIMEOUT_MS
    except (TypeError, ValueError):
        return DEFAULT_TIMEOUT_MS
