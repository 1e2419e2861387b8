"""A Confluent-API schema registry, as the codec needs it: ids of our schemas, schemas of ids.

    registry = SchemaRegistry.from_url("http://127.0.0.1:18081")
    registry.id_for("io.orchestrator.v1.commands.StartWorkflow", schema)   # registers once
    registry.schema_of(7)                                                 # JSON text

Built on ``confluent_kafka.schema_registry.SchemaRegistryClient`` (its caches included: an id is
asked once per process). Subjects follow Confluent's **record-name strategy**: the subject is
the record's full name (``io.orchestrator.v1.commands.StartWorkflow``), one subject per record
type, whatever topic it travels on. Our schemas are registered self-contained (no references).

Errors: a registry that cannot be reached, or answers 5xx, raises ``SchemaRegistryUnavailable``
(transient: the caller waits and tries again, a record is never dead-lettered for it); an
answer that says no (an unknown id, a schema the subject's compatibility rule refuses) raises
``CodecError`` with the registry's message.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from orchestrator.codec.schemas import CodecError
from orchestrator.payloads.store import PayloadUnavailable

log = logging.getLogger(__name__)

CONFLUENT_MAGIC = 0
CONFLUENT_HEADER_LENGTH = 5  # magic byte 0, then the schema id (4 bytes, big-endian)


class SchemaRegistryUnavailable(PayloadUnavailable):
    """The schema registry cannot be reached now: transient, like an unreachable payload store
    (every consumer that waits out one waits out the other; never a dead letter)."""


def subject_of(full_name: str) -> str:
    """The subject of a record type: its full name (Confluent's RecordNameStrategy)."""
    return full_name


class SchemaRegistry:
    """Ids and schemas from one registry, cached (thread-safe: the client locks its caches)."""

    def __init__(self, client: Any, url: str) -> None:
        self.client = client
        self.url = url

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float = 10.0) -> SchemaRegistry:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        # max.retries 0: an outage is ours to wait out (the caller's backoff, logged once).
        conf = {"url": url, "timeout": timeout_s, "max.retries": 0}
        return cls(SchemaRegistryClient(conf), url)

    def id_for(self, full_name: str, schema: dict[str, Any]) -> int:
        """The id of ``schema`` under its subject, registering it there if it is new."""
        from confluent_kafka.schema_registry import Schema

        text = json.dumps(schema, separators=(",", ":"))
        subject = subject_of(full_name)
        try:
            found: int = self.client.register_schema(subject, Schema(text, "AVRO"))
        except Exception as exc:
            raise self._error(exc, f"register {subject}") from None
        return found

    def schema_of(self, schema_id: int) -> tuple[str, list[Any]]:
        """(schema text, references) of ``schema_id``."""
        try:
            schema = self.client.get_schema(schema_id)
        except Exception as exc:
            raise self._error(exc, f"look up schema id {schema_id}") from None
        if schema.schema_type not in (None, "AVRO"):
            raise CodecError(f"schema id {schema_id} is a {schema.schema_type} schema, not Avro")
        return schema.schema_str, list(schema.references or [])

    def version_of(self, subject: str, version: int) -> tuple[str, list[Any]]:
        """(schema text, references) of ``subject``'s ``version`` (a schema reference)."""
        try:
            registered = self.client.get_version(subject, version)
        except Exception as exc:
            raise self._error(exc, f"look up {subject} version {version}") from None
        return registered.schema.schema_str, list(registered.schema.references or [])

    def _error(self, exc: Exception, what: str) -> Exception:
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        if isinstance(exc, SchemaRegistryError) and 400 <= exc.http_status_code < 500:
            return CodecError(
                f"schema registry {self.url}: cannot {what}: {exc.error_message} "
                f"(HTTP {exc.http_status_code}, error {exc.error_code})"
            )
        return SchemaRegistryUnavailable(f"schema registry {self.url}: cannot {what}: {exc}")
