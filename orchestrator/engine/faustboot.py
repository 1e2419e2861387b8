"""The processor's faust app runs no Kafka consumer of its own (issue #15).

The processor reads the commands through its own consumer (intake.py) and its state from the
changelog (changelog.py); faust only runs the agent, its channel and the timers. But a faust app
still joins a consumer group of its own (``<prefix>-processor``, for its leader-assignor topic)
and starts the app's tasks and timers only once that group has assigned it, with faust's
60 s session timeout. A processor restarted after a kill -9 therefore waited for the dead
member's faust session to expire, ~50 s, before its intake even started (measured: "(Re-)joining
group" at 20:05:50.9, "Joined group" at 20:06:39.8). Without faust's consumer, nothing waits
for that group: the tasks start at once.
"""

from __future__ import annotations

from collections.abc import Iterable

import faust
from faust.app.base import BootStrategy
from mode import ServiceT


def without_kafka_consumer(app: faust.App) -> BootStrategy:
    """A boot strategy for ``app`` with its agents and timers only: no Kafka producer (the
    processor has its own), consumer, leader assignor, conductor or table manager."""
    return _ChannelsOnly(app, enable_kafka=False, enable_web=False)


class _ChannelsOnly(BootStrategy):
    def server(self) -> Iterable[ServiceT]:
        # faust suspends the flow into channels until its first rebalance's recovery resumes
        # it; with no consumer there is none, so the flow starts open (before any put).
        self.app.flow_control.resume()
        return super().server()
