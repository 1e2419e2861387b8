"""Transient trouble, handled quietly: retry with backoff, log a recurring condition once.

A broker restart, a topic whose leader is not elected yet, a topic not created yet
(NOT_LEADER_FOR_PARTITION, UNKNOWN_TOPIC_OR_PART, _TRANSPORT, ...) or a payload store that is
briefly unreachable are not errors of a record: the service waits and tries again, and the log
says so once (then once a minute while it lasts, with a count, and once when it is over),
never with a traceback per attempt.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError

REPEAT_EVERY_S = 60.0

# Errors a consumer reports (message.error()) that go away by themselves.
TRANSIENT_CODES = frozenset(
    {
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.NETWORK_EXCEPTION,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._UNKNOWN_PARTITION,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError._TIMED_OUT,
        KafkaError._RESOLVE,
        KafkaError._WAIT_COORD,
    }
)


def is_transient(error: Any) -> bool:
    """A KafkaError (or a KafkaException's first argument) that retrying will outlive."""
    if error is None:
        return False
    code = error.code() if callable(getattr(error, "code", None)) else None
    retriable = error.retriable() if callable(getattr(error, "retriable", None)) else False
    return bool(retriable) or code in TRANSIENT_CODES


@dataclass
class _Condition:
    since: float
    count: int = 1
    last_logged: float = 0.0


@dataclass
class QuietLog:
    """Logs each recurring condition (by key) once, then every ``repeat_s`` with a count, and
    once more when ``clear(key)`` says it is over."""

    logger: logging.Logger
    repeat_s: float = REPEAT_EVERY_S
    clock: Callable[[], float] = time.monotonic
    _open: dict[str, _Condition] = field(default_factory=dict)

    def warning(self, key: str, message: str, *args: Any) -> None:
        now = self.clock()
        held = self._open.get(key)
        if held is None:
            self._open[key] = _Condition(since=now, last_logged=now)
            self.logger.warning(message + " (retrying; logged once)", *args)
            return
        held.count += 1
        if now - held.last_logged >= self.repeat_s:
            held.last_logged = now
            self.logger.warning(
                message + " (still, %d times in %.0f s)", *args, held.count, now - held.since
            )

    def clear(self, key: str, message: str = "", *args: Any) -> None:
        held = self._open.pop(key, None)
        if held is not None:
            if not message:
                message, args = "%s: recovered", (key,)
            self.logger.info(
                message + " after %d occurrences in %.0f s",
                *args,
                held.count,
                self.clock() - held.since,
            )

    def clear_all(self, prefix: str, message: str = "", *args: Any) -> None:
        """``clear`` every open condition whose key starts with ``prefix`` (cheap when none)."""
        if self._open:
            for key in [k for k in self._open if k.startswith(prefix)]:
                self.clear(key, message, *args)

    def active(self, key: str) -> bool:
        return key in self._open


@dataclass
class Backoff:
    """Delays 0.1, 0.2, 0.4 ... up to ``cap`` seconds; ``reset`` after a success."""

    first: float = 0.1
    cap: float = 5.0
    _next: float = 0.0

    def delay(self) -> float:
        self._next = self.first if self._next == 0.0 else min(self.cap, self._next * 2)
        return self._next

    def reset(self) -> None:
        self._next = 0.0

    def sleep(self, stop: Callable[[], bool] | None = None) -> None:
        """Sleep the next delay, in slices, returning early once ``stop()`` holds."""
        end = time.monotonic() + self.delay()
        while time.monotonic() < end:
            if stop is not None and stop():
                return
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))


def retry_transient(
    call: Callable[[], Any],
    quiet: QuietLog,
    what: str,
    *,
    transient: Callable[[BaseException], bool] | None = None,
    deadline_s: float = 120.0,
    stop: Callable[[], bool] | None = None,
) -> Any:
    """``call()``, tried again with backoff while it fails transiently (a KafkaException with a
    transient error, by default), logged once; any other failure, or the deadline, raises."""
    is_retriable = transient or _transient_kafka
    backoff = Backoff(cap=5.0)
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            result = call()
        except Exception as exc:
            if not is_retriable(exc) or time.monotonic() > deadline or (stop and stop()):
                raise
            quiet.warning(what, "%s: %s", what, exc)
            backoff.sleep(stop)
            continue
        quiet.clear(what)
        return result


def _transient_kafka(exc: BaseException) -> bool:
    from confluent_kafka import KafkaException

    return isinstance(exc, KafkaException) and is_transient(exc.args[0] if exc.args else None)
