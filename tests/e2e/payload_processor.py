"""`orchestrator processor`, with the two payload building blocks wired in as docs/adr/0008 asks
of engine/processor.py (and as the lead's rework will do; until then the end-to-end payload
tests run the real processor through this file):

1. the Context carries the payload maximums (the core fails an INLINE/JQ output over them);
2. a state record over STATE_BUDGET is written with its large payloads in the payload store
   (payloads/state.py), so no state record is ever too large for Kafka.

    python -m tests.e2e.payload_processor        (same environment as `orchestrator processor`)
"""

from __future__ import annotations

import dataclasses
import logging

from orchestrator.engine import processor as processor_module
from orchestrator.engine.run import run_processor
from orchestrator.engine.statecodec import TableEntry
from orchestrator.payloads.setup import configure_process
from orchestrator.payloads.state import StatePayloads
from orchestrator.settings import load_settings

STATE_BUDGET = 256 * 1024  # a state record larger than this moves its payloads to the store


def main() -> None:
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    payloads = configure_process(settings)
    state_payloads = StatePayloads(payloads)
    encode = processor_module.encode_entry

    def encode_entry(entry: TableEntry) -> bytes:
        blob = encode(entry)
        if len(blob) <= STATE_BUDGET:
            return blob
        return encode(TableEntry(entry.partition, state_payloads.externalize(entry.state)))

    processor_module.encode_entry = encode_entry  # type: ignore[assignment]
    build = processor_module.Processor.__init__

    def init(self: processor_module.Processor, *args: object, **kwargs: object) -> None:
        build(self, *args, **kwargs)  # type: ignore[arg-type]
        limits = payloads.policy.domain_limits()
        self.ctx = dataclasses.replace(self.ctx, payload_limits=limits)

    processor_module.Processor.__init__ = init  # type: ignore[method-assign]
    run_processor(settings)


if __name__ == "__main__":
    main()
