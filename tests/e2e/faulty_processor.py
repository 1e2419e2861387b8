"""`python tests/e2e/faulty_processor.py`: the real processor (settings from the environment),
whose script evaluator has one injected bug: the JavaScript expression CRASH raises a plain
RuntimeError instead of a ScriptError, as an engine bug would. Every other expression runs on
the real evaluator. Used by the tests/e2e/test_conductor_fidelity_*.py stack to see an engine error fail
its workflow on the real stack."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.adapters.scripting import DefaultScriptEvaluator
from orchestrator.engine.run import run_processor
from orchestrator.settings import load_settings

CRASH = "'injected engine bug'"


class FaultyScripts:
    def __init__(self, real: DefaultScriptEvaluator) -> None:
        self.real = real

    def evaluate_js(self, expression: str, bindings: Mapping[str, Any]) -> Any:
        if expression == CRASH:
            raise RuntimeError("injected engine bug")
        return self.real.evaluate_js(expression, bindings)

    def evaluate_jq(self, query: str, value: Any) -> list[Any]:
        return self.real.evaluate_jq(query, value)


def main() -> None:
    settings = load_settings()
    real = DefaultScriptEvaluator(
        timeout_ms=settings.script_timeout_ms,
        memory_limit_bytes=settings.script_memory_mb * 1024 * 1024,
    )
    run_processor(settings, scripts=FaultyScripts(real))


if __name__ == "__main__":
    main()
