"""A fenced consumer: another process with its instance id (stay down), or itself after its own
session timed out while the group coordinator was unreachable (restart: librdkafka #3437)."""

from __future__ import annotations

import logging

import pytest
from confluent_kafka import KafkaError

from orchestrator.kafka import clients
from orchestrator.kafka.clients import EXIT_FATAL, EXIT_FENCED, exit_if_fatal

FENCED = "Fatal error: Broker: Static consumer fenced by other consumer with same group.instance.id"


class Exited(Exception):
    pass


@pytest.fixture
def exits(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_exit(code: int) -> None:
        raise Exited(code)

    monkeypatch.setattr(clients.os, "_exit", fake_exit)
    monkeypatch.setattr(logging, "shutdown", lambda: None)
    monkeypatch.setattr(clients._LibrdkafkaLog, "last_session_timeout", None)


def exit_code(error: KafkaError) -> int:
    with pytest.raises(Exited) as exited:
        exit_if_fatal(error, "test")
    return int(exited.value.args[0])


def session_timed_out() -> None:
    """What librdkafka's log callback delivers when the consumer's session times out."""
    clients._LIBRDKAFKA_LOG.log(
        logging.WARNING, "%s [%s] %s", "SESSTMOUT", "c#consumer-1", "[thrd:main]: timed out"
    )


def test_fenced_by_another_process_stays_down(exits: None) -> None:
    assert exit_code(KafkaError(KafkaError._FATAL, FENCED)) == EXIT_FENCED


def test_fenced_after_its_own_session_timed_out_is_restarted(exits: None) -> None:
    session_timed_out()
    assert exit_code(KafkaError(KafkaError._FATAL, FENCED)) == EXIT_FATAL


def test_a_session_timeout_long_ago_does_not_count(
    exits: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_timed_out()
    now = clients.time.monotonic()
    monkeypatch.setattr(clients.time, "monotonic", lambda: now + clients.SELF_FENCE_WINDOW_S + 1)
    assert exit_code(KafkaError(KafkaError._FATAL, FENCED)) == EXIT_FENCED


def test_other_fatal_errors_exit_fatal_and_others_return(exits: None) -> None:
    assert exit_code(KafkaError(KafkaError._FATAL, "Fatal error: something else")) == EXIT_FATAL
    exit_if_fatal(KafkaError(KafkaError._TRANSPORT, "down"), "test")  # not fatal: no exit
    exit_if_fatal(None, "test")


def test_the_log_lines_still_reach_logging(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="orchestrator.kafka.librdkafka"):
        session_timed_out()
    assert "SESSTMOUT [c#consumer-1] [thrd:main]: timed out" in caplog.text
