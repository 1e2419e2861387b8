"""Run one task: resolve its secrets, call the function, map the result, redact the secrets.

No Kafka here either: the runner hands in the dispatch and a heartbeat callback, and gets an
``Outcome`` back that is safe to report (no secret value in output, reason or logs).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from orchestrator.domain.effects import DispatchTask
from orchestrator.secrets import MissingSecrets, Resolved, redact, resolve_task_secrets
from orchestrator.worker.registry import WorkerSpec
from orchestrator.worker.task import (
    Heartbeat,
    Outcome,
    TaskContext,
    failed,
    outcome_of_exception,
    outcome_of_return,
)

SecretLookup = Callable[[str], str | None]


class Prepared:
    """A task ready to run: its arguments, and the secrets to scrub from what it reports."""

    __slots__ = ("args", "context", "secrets")

    def __init__(self, args: tuple[Any, ...], context: TaskContext, secrets: tuple[str, ...]):
        self.args = args
        self.context = context
        self.secrets = secrets


def prepare(
    spec: WorkerSpec, dispatch: DispatchTask, lookup: SecretLookup, heartbeat: Heartbeat | None
) -> Prepared | Outcome:
    """The call arguments, or a FAILED outcome when a secret is missing."""
    raw = dispatch.input_data if isinstance(dispatch.input_data, dict) else {}
    try:
        resolved: Resolved = resolve_task_secrets(raw, lookup)
    except MissingSecrets as exc:
        return failed(str(exc))
    secrets = resolved.secrets
    beat = _redacting(heartbeat, secrets) if heartbeat is not None else None
    context = TaskContext(dispatch, resolved.value, beat)
    if not spec.takes_argument:
        args: tuple[Any, ...] = ()
    else:
        args = (context,) if spec.wants_context else (resolved.value,)
    return Prepared(args, context, secrets)


def _redacting(heartbeat: Heartbeat, secrets: tuple[str, ...]) -> Heartbeat:
    def beat(callback_after_seconds: int, output: Any, logs: Any) -> None:
        heartbeat(callback_after_seconds, redact(output, secrets), redact(logs, secrets))

    return beat


def finish(prepared: Prepared, outcome: Outcome) -> Outcome:
    """The outcome with the context's log lines added and every secret value redacted."""
    logs = prepared.context.logs + outcome.logs
    if not prepared.secrets:
        return Outcome(
            outcome.status, outcome.output, outcome.reason, logs, outcome.callback_after_seconds
        )
    return Outcome(
        outcome.status,
        redact(outcome.output, prepared.secrets),
        redact(outcome.reason, prepared.secrets),
        redact(logs, prepared.secrets),
        outcome.callback_after_seconds,
    )


def run_sync(
    spec: WorkerSpec, dispatch: DispatchTask, lookup: SecretLookup, heartbeat: Heartbeat | None
) -> Outcome:
    prepared = prepare(spec, dispatch, lookup, heartbeat)
    if isinstance(prepared, Outcome):
        return prepared
    try:
        outcome = outcome_of_return(spec.function(*prepared.args))
    except Exception as exc:
        outcome = outcome_of_exception(exc)
    return finish(prepared, outcome)


async def run_async(
    spec: WorkerSpec, dispatch: DispatchTask, lookup: SecretLookup, heartbeat: Heartbeat | None
) -> Outcome:
    prepared = prepare(spec, dispatch, lookup, heartbeat)
    if isinstance(prepared, Outcome):
        return prepared
    try:
        result = spec.function(*prepared.args)
        if inspect.isawaitable(result):
            result = await result
        outcome = outcome_of_return(result)
    except Exception as exc:  # CancelledError is a BaseException: an abandoned task
        outcome = outcome_of_exception(exc)
    return finish(prepared, outcome)
