"""The processor completes batches in order (ADR 0003), whatever order their deliveries finish in.

Found by the three-broker fault test (issue #19): a broker died while batch N waited for a
delivery to one of its partitions; batch N+1's deliveries finished first, its states went to the
changelog queue, then batch N's older states replaced them for the same workflow. Both batches'
offsets were committed with the older state written, and the processor that took over decided a
worker's second report of a task against a state that lacked the first: two different events
with one seq.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from orchestrator.engine.cache import Live, StateCache
from orchestrator.engine.processor import Processor


class Intake:
    def __init__(self) -> None:
        self.done_batches: list[str] = []

    def done(self, batch: Any) -> None:
        self.done_batches.append(batch)


def entry(seq: int) -> Live:
    return Live(0, SimpleNamespace(seq=seq, is_terminal=False))  # type: ignore[arg-type]


async def complete_out_of_order() -> SimpleNamespace:
    loop = asyncio.get_running_loop()
    processor = SimpleNamespace(cache=StateCache(retention_ms=1000), intake=Intake())
    first_delivered, second_delivered = loop.create_future(), loop.create_future()
    first = asyncio.create_task(
        Processor._complete(processor, "batch-1", [first_delivered], {"wf": entry(6)}, None)  # type: ignore[arg-type]
    )
    second = asyncio.create_task(
        Processor._complete(processor, "batch-2", [second_delivered], {"wf": entry(7)}, first)  # type: ignore[arg-type]
    )
    # Given batch 2's deliveries finish while batch 1 still waits for a partition
    second_delivered.set_result(None)
    for _ in range(5):
        await asyncio.sleep(0)
    processor.seen_before_first = dict(processor.cache.unwritten)
    # When batch 1's deliveries finish too
    first_delivered.set_result(None)
    await asyncio.gather(first, second)
    return processor


def test_a_later_batch_delivered_first_waits_and_its_newer_state_is_the_one_written() -> None:
    processor = asyncio.run(complete_out_of_order())
    # Then nothing of batch 2 was queued for the changelog before batch 1 was complete,
    assert processor.seen_before_first == {}
    # the batches are done in order, and the state queued for the changelog is the newest
    assert processor.intake.done_batches == ["batch-1", "batch-2"]
    assert processor.cache.unwritten["wf"].seq == 7
