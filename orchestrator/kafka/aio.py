"""An asyncio face for confluent-kafka's producer: `send()` returns a future of the delivery.

librdkafka does the batching and retries in C; a daemon thread serves its delivery callbacks and
resolves each asyncio future on the owning event loop. Used by the processor for everything it
writes except faust's own changelog records.

Why not faust's (aiokafka) producer: it refreshes metadata only for the topics it has been told
about, so a batch for a topic it learned of implicitly can wait for a leader forever after a
refresh for another topic (seen with a newly created task topic); and it costs ~20x more CPU per
record than librdkafka's enqueue.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaException, Producer

from orchestrator.kafka import clients

# The poll thread's longest wait: a delivery report ends it at once (librdkafka's poll returns
# as soon as it has served one), so this only sets how often an idle producer's thread wakes
# to look at its stop flag: 2 times a second, not 20 (issue #18).
POLL_S = 0.5


class DeliveryError(Exception):
    """A record could not be delivered (after librdkafka's own retries)."""


class AsyncProducer:
    def __init__(self, config: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
        self._producer = Producer(config)
        self._loop = loop
        self._stop = threading.Event()
        # Deliveries settled by the poll thread, handed to the loop once per poll (not one
        # call_soon_threadsafe, i.e. one self-pipe write, per record: 6 s of a 20 s profile).
        self._settled: list[tuple[asyncio.Future[None], Any]] = []
        self._settled_lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name="producer-poll", daemon=True)
        self._thread.start()

    def send(
        self, topic: str, key: bytes | None, value: bytes | None, partition: int | None = None
    ) -> asyncio.Future[None]:
        """One record; the future of its delivery."""
        return self.send_all([(topic, key, value, partition)])

    def send_all(self, records: Sequence[OutRecord]) -> asyncio.Future[None]:
        """Produce ``records`` (topic, key, value, partition or None); one future for all of
        them, failed with the first delivery error. Cheaper than a future per record: one
        counter and one shared callback instead of N futures gathered (~10 % of a processor's
        CPU at ~70 records per workflow)."""
        future: asyncio.Future[None] = self._loop.create_future()
        if not records:
            future.set_result(None)
            return future
        group = _Group(future, len(records))
        lock = self._settled_lock

        def on_delivery(err: Any, _msg: Any) -> None:
            with lock:
                group.pending -= 1
                if err is not None and group.error is None:
                    group.error = err
                if group.pending == 0:
                    self._settled.append((group.future, group.error))

        produce = self._producer.produce
        for topic, key, value, partition in records:
            while True:
                try:
                    # -1: librdkafka's partitioner picks (by key), as without a partition
                    produce(topic, value, key, -1 if partition is None else partition, on_delivery)
                    break
                except BufferError:  # local queue full: let the poll thread drain it
                    self._producer.poll(0.05)
                    self._hand_settled()
                except KafkaException as exc:  # never queued: no callback will come for it
                    on_delivery(exc.args[0] if exc.args else exc, None)
                    break
        return future

    def flush(self, timeout_s: float = 30.0) -> int:
        return int(self._producer.flush(timeout_s))

    def close(self, timeout_s: float = 30.0) -> None:
        """Flush (its delivery reports are served here), settle their futures, stop the poll
        thread; the thread ends within POLL_S on its own, nobody waits for it."""
        self.flush(timeout_s)
        self._stop.set()
        self._hand_settled()

    def _serve(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(POLL_S)
            self._hand_settled()
        self._hand_settled()

    def _hand_settled(self) -> None:
        with self._settled_lock:
            settled, self._settled = self._settled, []
        if settled:
            # A closed loop raises RuntimeError: nobody awaits these any more.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(_settle_all, settled)


OutRecord = tuple[str, bytes | None, bytes | None, int | None]


class _Group:
    """Deliveries of one ``send_all`` still outstanding; guarded by the producer's lock."""

    __slots__ = ("error", "future", "pending")

    def __init__(self, future: asyncio.Future[None], pending: int) -> None:
        self.future = future
        self.pending = pending
        self.error: Any = None


def _settle_all(settled: list[tuple[asyncio.Future[None], Any]]) -> None:
    for future, err in settled:
        _settle(future, err)


def _settle(future: asyncio.Future[None], err: Any) -> None:
    if future.done():
        return
    if err is None:
        future.set_result(None)
    else:
        future.set_exception(DeliveryError(str(err)))


def producer_config(kafka: clients.Kafka, **overrides: Any) -> dict[str, Any]:
    """The project's producer settings (orchestrator.kafka.clients) tuned for large batches."""
    extra: dict[str, Any] = {
        "batch.size": 512 * 1024,
        "queue.buffering.max.messages": 500_000,
    }
    extra.update(overrides)
    return clients.producer_config(
        kafka, client_id="orchestrator-processor", linger_ms=4, extra=extra
    )
