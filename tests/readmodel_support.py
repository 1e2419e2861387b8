"""Helpers for the read-model tests that need the real stack (Postgres, Kafka).

Each test gets its own Postgres schema (selected through the URL's ``options=-csearch_path``)
and its own topic prefix, so tests never see each other's rows or records.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterable
from urllib.parse import quote

import psycopg
import pytest
from confluent_kafka import Producer

from orchestrator.kafka.admin import delete_topics, ensure_topics
from orchestrator.kafka.topics import TopicNames, core_topics
from orchestrator.settings import Settings, load_settings


def required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run make stack-up, then `. .stack/env` (or make test)")
    return value


def database_url() -> str:
    return required_env("ORCHESTRATOR_DATABASE_URL")


def kafka_bootstrap() -> str:
    return required_env("ORCHESTRATOR_KAFKA_BOOTSTRAP")


def schema_url(url: str, schema: str) -> str:
    """``url`` with the schema as the only entry of search_path."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}', safe='')}"


def create_schema(url: str) -> str:
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema


def drop_schema(url: str, schema: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def settings_for(url: str, prefix: str, **extra: str) -> Settings:
    return load_settings(
        environ={},
        overrides={
            "database_url": url,
            "kafka_bootstrap": kafka_bootstrap(),
            "topic_prefix": prefix,
            **extra,
        },
    )


def create_topics(settings: Settings) -> TopicNames:
    report = ensure_topics(settings, core_topics(settings))
    assert report.ok, report.errors
    return TopicNames.from_settings(settings)


def remove_topics(settings: Settings) -> None:
    """Every topic of the test's prefix: the core ones and those made on the way (presence...)."""
    from orchestrator.kafka.admin import admin_client

    names = admin_client(settings).list_topics(timeout=10).topics
    mine = [
        n for n in names if n.startswith((settings.topic_prefix + ".", settings.topic_prefix + "-"))
    ]
    delete_topics(settings, sorted({*mine, *(s.name for s in core_topics(settings))}))


def produce(
    bootstrap: str, topic: str, records: Iterable[tuple[bytes | str | None, bytes | None]]
) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for key, value in records:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0, "records not delivered"


def wait_until(check: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
