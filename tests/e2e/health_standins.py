"""Heartbeats of services that a test deployment does not run (the API's /health reads them).

Tests of the API alone (the OpenAPI fuzz test) run no processor nor projector, so /health is
rightly 503 there; ``StandInServices`` publishes, every second, the heartbeats of a processor
and a projector serving every partition, for tests whose subject is not health.
"""

from __future__ import annotations

import threading

from orchestrator.health.beacon import Beacon
from orchestrator.kafka.topics import TopicNames
from orchestrator.settings import Settings


class StandInServices:
    def __init__(self, settings: Settings) -> None:
        t = TopicNames.from_settings(settings)
        every = range(settings.partitions)
        self._beats = [
            (
                Beacon.to_topic(settings, t.status, "processor", "stand-in-p"),
                {t.commands: every},
            ),
            (
                Beacon.to_topic(settings, t.status, "projector", "stand-in-q"),
                {t.events: every, t.definitions: range(1)},
            ),
        ]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stand-in-beats", daemon=True)

    def __enter__(self) -> StandInServices:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        for beacon, _ in self._beats:
            beacon.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            for beacon, partitions in self._beats:
                beacon.beat(partitions, force=True)
            self._stop.wait(1.0)
