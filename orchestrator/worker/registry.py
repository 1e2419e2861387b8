"""``@worker_task``: mark a function as the worker of a task type; find marked functions.

The decorator returns the function unchanged (it stays callable and testable as is) with a
``WorkerSpec`` attached as ``__worker_task__``; the runner and the CLI read that attribute.
"""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any, TypeVar

from orchestrator.worker.task import TaskContext

F = TypeVar("F", bound=Callable[..., Any])
ATTRIBUTE = "__worker_task__"


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    task_type: str
    function: Callable[..., Any]
    concurrency: int = 4
    domain: str | None = None
    poll_batch: int = 100
    is_async: bool = False
    wants_context: bool = False  # pass a TaskContext instead of the input dict
    takes_argument: bool = True  # False: the function takes no parameter at all
    ack: bool = True  # acknowledge each task (TaskStarted) when it starts: responseTimeout applies
    ack_after_ms: int = 100  # ...only if it is still running then (acks.py); 0: at once

    @property
    def name(self) -> str:
        return f"{self.function.__module__}.{self.function.__qualname__}"

    def with_overrides(
        self, concurrency: int | None = None, domain: str | None = None
    ) -> WorkerSpec:
        return replace(
            self,
            concurrency=self.concurrency if concurrency is None else concurrency,
            domain=self.domain if domain is None else (domain or None),
        )


def worker_task(
    task_type: str,
    *,
    concurrency: int = 4,
    domain: str | None = None,
    poll_batch: int = 100,
    ack: bool = True,
    ack_after_ms: int = 100,
) -> Callable[[F], F]:
    """Make the decorated function (sync or ``async def``) the worker of ``task_type``.

    ``concurrency``: tasks run at once by this process (threads for a sync function, concurrent
    coroutines for an async one); ``domain``: poll the task topic of that domain (Conductor's
    taskToDomain); ``poll_batch``: most records taken from Kafka in one call; ``ack``: tell the
    engine when a task starts (Conductor's poll acknowledgement), so the task definition's
    ``responseTimeoutSeconds`` catches a worker that dies or hangs; ``ack=False`` saves one
    command per task, and then only Kafka's redelivery after a worker's crash protects the task.
    ``ack_after_ms``: the acknowledgement waits this long, and a task that ends sooner is
    reported in one record with the time it was taken (``started_at``); 0 acknowledges at once.
    """
    if not task_type or not isinstance(task_type, str):
        raise ValueError("worker_task needs the task type name, e.g. @worker_task('resize_image')")
    if concurrency < 1 or poll_batch < 1:
        raise ValueError("concurrency and poll_batch must be at least 1")
    if ack_after_ms < 0:
        raise ValueError(f"ack_after_ms must be 0 or more, not {ack_after_ms}")

    def decorate(function: F) -> F:
        wants_context, takes_argument = calling_convention(function)
        spec = WorkerSpec(
            task_type=task_type,
            function=function,
            concurrency=concurrency,
            domain=domain or None,
            poll_batch=poll_batch,
            is_async=inspect.iscoroutinefunction(function),
            wants_context=wants_context,
            takes_argument=takes_argument,
            ack=ack,
            ack_after_ms=ack_after_ms,
        )
        setattr(function, ATTRIBUTE, spec)
        return function

    return decorate


def calling_convention(function: Callable[..., Any]) -> tuple[bool, bool]:
    """(wants_context, takes_argument) of ``function``; refuses signatures we cannot call."""
    params = [
        p
        for p in inspect.signature(function).parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    required = [p for p in params if p.default is p.empty]
    if len(required) > 1:
        raise TypeError(
            f"{function.__qualname__}: a worker function takes one parameter (the task input "
            f"dict, or a TaskContext), not {len(required)}"
        )
    if not params:
        return False, False
    first = params[0]
    if first.kind is first.KEYWORD_ONLY:
        raise TypeError(f"{function.__qualname__}: the task parameter cannot be keyword-only")
    return first.name == "task" or _is_context(function, first), True


def _is_context(function: Callable[..., Any], param: inspect.Parameter) -> bool:
    annotation = param.annotation
    if annotation is param.empty:
        return False
    if isinstance(annotation, str):  # `from __future__ import annotations`
        try:
            annotation = typing.get_type_hints(function).get(param.name, annotation)
        except Exception:  # an unresolvable forward reference: judge by name
            return bool(annotation.rsplit(".", 1)[-1] == "TaskContext")
    return isinstance(annotation, type) and issubclass(annotation, TaskContext)


def spec_of(obj: Any) -> WorkerSpec | None:
    spec = getattr(obj, ATTRIBUTE, None)
    return spec if isinstance(spec, WorkerSpec) else None


def workers_in(module: ModuleType) -> list[WorkerSpec]:
    """Every @worker_task function defined or imported at the top level of ``module``."""
    found: dict[int, WorkerSpec] = {}
    for value in vars(module).values():
        spec = spec_of(value)
        if spec is not None:
            found.setdefault(id(spec.function), spec)
    return list(found.values())


class WorkerLoadError(Exception):
    """A module or function named on the command line cannot be loaded as a worker."""


def load_workers(targets: Iterable[str]) -> list[WorkerSpec]:
    """Resolve ``module`` or ``module:function`` names to specs (the CLI's arguments)."""
    specs: list[WorkerSpec] = []
    for target in targets:
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            raise WorkerLoadError(f"cannot import {module_name!r}: {exc}") from None
        if attr:
            if not hasattr(module, attr):
                raise WorkerLoadError(f"module {module_name!r} has no attribute {attr!r}")
            spec = spec_of(getattr(module, attr))
            if spec is None:
                raise WorkerLoadError(f"{target} is not decorated with @worker_task")
            specs.append(spec)
            continue
        found = workers_in(module)
        if not found:
            raise WorkerLoadError(f"module {module_name!r} has no @worker_task function")
        specs.extend(found)
    specs = list({id(s.function): s for s in specs}.values())  # named twice: run once
    duplicates = _duplicate_queues(specs)
    if duplicates:
        raise WorkerLoadError(f"two workers for the same task type: {', '.join(duplicates)}")
    return specs


def _duplicate_queues(specs: list[WorkerSpec]) -> list[str]:
    seen: dict[tuple[str, str | None], WorkerSpec] = {}
    clashes = []
    for spec in specs:
        key = (spec.task_type, spec.domain)
        other = seen.get(key)
        if other is not None and other.function is not spec.function:
            clashes.append(f"{spec.task_type} ({other.name}, {spec.name})")
        seen[key] = spec
    return clashes
