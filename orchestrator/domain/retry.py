"""Delay before a failed task's next attempt (Conductor's DeciderService.retry).

FIXED = retryDelaySeconds; LINEAR_BACKOFF = retryDelaySeconds x backoffScaleFactor x (n+1);
EXPONENTIAL_BACKOFF = retryDelaySeconds x 2^n; then capped by maxRetryDelaySeconds when > 0;
then plus a jitter in [0, backoffJitterMs]. Conductor draws the jitter at random; here it is
derived from a stable hash of the task id, so replaying the log gives the same delays.
"""

from __future__ import annotations

import hashlib

from orchestrator.domain.definitions import RetryLogic, TaskDef

_MAX_DELAY_SECONDS = 2**31 - 1  # Conductor resets int overflow to Integer.MAX_VALUE


def retry_delay_ms(task_def: TaskDef, retry_count: int, task_id: str) -> int:
    """Delay in ms after the attempt with 0-based ``retry_count`` (task ``task_id``) failed."""
    return base_delay_seconds(task_def, retry_count) * 1000 + jitter_ms(task_def, task_id)


def base_delay_seconds(task_def: TaskDef, retry_count: int) -> int:
    """The delay without jitter, in whole seconds (Conductor's ``startDelay``)."""
    n = max(retry_count, 0)
    delay = task_def.retry_delay_seconds
    if task_def.retry_logic is RetryLogic.LINEAR_BACKOFF:
        delay = delay * task_def.backoff_scale_factor * (n + 1)
    elif task_def.retry_logic is RetryLogic.EXPONENTIAL_BACKOFF:
        delay = delay * 2 ** min(n, 62)
    delay = max(0, min(delay, _MAX_DELAY_SECONDS))
    cap = task_def.max_retry_delay_seconds
    return cap if 0 < cap < delay else delay


def jitter_ms(task_def: TaskDef, task_id: str) -> int:
    """A deterministic draw, uniform over [0, backoffJitterMs], keyed by the task id."""
    return jitter_of(task_def.backoff_jitter_ms, task_id)


def jitter_of(bound: int, task_id: str) -> int:
    """`jitter_ms` given the bound (backoffJitterMs) itself."""
    if bound <= 0:
        return 0
    digest = hashlib.sha256(task_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % (bound + 1)
