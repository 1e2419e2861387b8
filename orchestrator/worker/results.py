"""A task result as a record that can always be produced, whatever the function returned.

- an output over the task output maximum (ORCHESTRATOR_MAX_TASK_OUTPUT_PAYLOAD_KB) fails the
  task for good (FAILED_WITH_TERMINAL_ERROR, empty output) with the size and the limit in the
  reason, as Conductor's server does;
- an output over its soft threshold is stored in the payload store by the codec, and the
  record carries its reference; a store that cannot be reached is tried again a few times,
  then the task is reported FAILED (retried per its TaskDef) with the reason;
- a record still too large (logs, a long reason) keeps its status and output, drops its logs;
- anything else the codec refuses fails the task with the codec's reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from orchestrator.codec import CodecError, wire
from orchestrator.codec.wire_payloads import RecordTooLarge
from orchestrator.domain.commands import ReportTaskResult
from orchestrator.domain.statuses import TaskStatus
from orchestrator.payloads.limits import PayloadKind, PayloadPolicy, PayloadTooLarge
from orchestrator.payloads.store import PayloadUnavailable
from orchestrator.worker.task import Outcome, failed

log = logging.getLogger(__name__)

STORE_ATTEMPTS = 3
STORE_RETRY_S = (0.5, 2.0)


def within_limits(outcome: Outcome, policy: PayloadPolicy | None, task_id: str) -> Outcome:
    """``outcome``, or a terminal failure if its output is over the task output maximum."""
    if policy is None:
        return outcome
    try:
        policy.check(PayloadKind.TASK_OUTPUT, outcome.output, f"The output of task {task_id}")
    except PayloadTooLarge as exc:
        return Outcome(TaskStatus.FAILED_WITH_TERMINAL_ERROR, {}, str(exc), outcome.logs)
    return outcome


def encode_result(
    command: Callable[[Outcome], ReportTaskResult],
    outcome: Outcome,
    policy: PayloadPolicy | None,
    task_id: str,
    sleep: Callable[[float], None] = time.sleep,
) -> bytes:
    """The record of ``command(outcome)``, adjusted as the module says until it encodes."""
    outcome = within_limits(outcome, policy, task_id)
    unavailable: PayloadUnavailable | None = None
    for attempt in range(STORE_ATTEMPTS):
        try:
            return wire.encode_command(command(outcome))
        except PayloadUnavailable as exc:
            unavailable = exc
            if attempt < len(STORE_RETRY_S):
                sleep(STORE_RETRY_S[attempt])
        except RecordTooLarge as exc:
            if not outcome.logs:
                outcome = failed(f"cannot report the task result: {exc}")
                continue
            dropped = sum(len(line) for line in outcome.logs)
            note = f"{len(outcome.logs)} log lines ({dropped} characters) dropped: {exc}"
            log.warning("task %s: %s", task_id, note)
            outcome = Outcome(
                outcome.status, outcome.output, outcome.reason, (note[:2000],),
                outcome.callback_after_seconds,
            )  # fmt: skip
        except (CodecError, TypeError, ValueError) as exc:
            log.error("task %s: cannot encode its result: %s", task_id, exc)
            outcome = failed(f"cannot encode the task result: {exc}")
    log.error("task %s: result not stored: %s", task_id, unavailable)
    reason = f"the task result could not be stored in the payload store: {unavailable}"
    return wire.encode_command(command(failed(reason)))
