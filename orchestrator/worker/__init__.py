"""The Kafka-native worker SDK.

```python
from orchestrator.worker import TaskContext, TerminalError, run_workers, worker_task

@worker_task("resize_image", concurrency=8)
def resize(task_input: dict) -> dict:
    return {"url": scale(task_input["url"], task_input["width"])}

@worker_task("charge_card")
async def charge(task: TaskContext) -> dict:
    if task.retry_count > 2:
        raise TerminalError("giving up")
    ...

if __name__ == "__main__":
    run_workers(resize, charge)      # or: orchestrator worker my_module
```

See docs/workers.md. Only the names below are the public API; the modules behind them may
change.
"""

from typing import TYPE_CHECKING, Any

from orchestrator.worker.registry import WorkerLoadError, WorkerSpec, load_workers, worker_task
from orchestrator.worker.task import InProgress, TaskContext, TerminalError

if TYPE_CHECKING:
    from orchestrator.worker.group import (
        WorkerCrashed,
        WorkerGroup,
        WorkerStartupError,
        run_workers,
    )

# The runtime (confluent-kafka, the Avro codec) loads on first use: `orchestrator --help` imports
# this package through the `worker` command and must stay light.
_RUNTIME = {"WorkerCrashed", "WorkerGroup", "WorkerStartupError", "run_workers"}


def __getattr__(name: str) -> Any:
    if name in _RUNTIME:
        from orchestrator.worker import group

        return getattr(group, name)
    raise AttributeError(f"module 'orchestrator.worker' has no attribute {name!r}")


__all__ = [
    "InProgress",
    "TaskContext",
    "TerminalError",
    "WorkerCrashed",
    "WorkerGroup",
    "WorkerLoadError",
    "WorkerSpec",
    "WorkerStartupError",
    "load_workers",
    "run_workers",
    "worker_task",
]
