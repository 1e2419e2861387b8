"""`orchestrator processor` with the payload maximums in its Context, as docs/adr/0011 asks of
engine/processor.py (one keyword: the core then fails an INLINE/JSON_JQ_TRANSFORM output over
ORCHESTRATOR_MAX_TASK_OUTPUT_PAYLOAD_KB). Until the processor builds its Context so, the
end-to-end payload tests run the real processor through this file.

    python -m tests.e2e.payload_processor        (same environment as `orchestrator processor`)
"""

from __future__ import annotations

import dataclasses
import logging

from orchestrator.engine import processor as processor_module
from orchestrator.engine.run import run_processor
from orchestrator.payloads.limits import PayloadPolicy
from orchestrator.payloads.setup import configure_process
from orchestrator.settings import load_settings


def main() -> None:
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    configure_process(settings)  # what `orchestrator processor` does through cli.py
    limits = PayloadPolicy.from_settings(settings).domain_limits()
    build = processor_module.Processor.__init__

    def init(self: processor_module.Processor, *args: object, **kwargs: object) -> None:
        build(self, *args, **kwargs)  # type: ignore[arg-type]
        self.ctx = dataclasses.replace(self.ctx, payload_limits=limits)

    processor_module.Processor.__init__ = init  # type: ignore[method-assign]
    run_processor(settings)


if __name__ == "__main__":
    main()
