"""PUT|POST /api/workflow/bulk/{pause,resume,restart,retry,terminate}: up to 1000 ids.

Each id gets the same pre-checks as the single operation (unknown, wrong state); the commands
that pass are produced concurrently. The answer then waits, bounded by the single operations'
wait, until the projection shows each command's effect (one query for all ids, re-run every
POLL_S) or the engine refuses it (rejections.py): a refused id moves to bulkErrorResults with
the engine's reason. An id neither shown nor refused within the bound counts as successful
(Kafka has it, acks=all; the engine will decide), as the single operations' 202.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request

from orchestrator.api.app import Runtime, runtime
from orchestrator.api.common import actor_of, now_ms
from orchestrator.api.errors import ApiError, bad_request
from orchestrator.api.kafka_out import DeliveryFailed
from orchestrator.api.models import BulkResponse
from orchestrator.api.openapi_errors import errors
from orchestrator.api.rejections import rejection_error, send
from orchestrator.api.routes_operations import restart_command, retry_command, workflow_row
from orchestrator.api.routes_workflow import COMMAND_WAIT_S, REACHES, any_status
from orchestrator.codec.wire_infra import Rejection
from orchestrator.domain import commands as cmd

router = APIRouter(prefix="/workflow/bulk", tags=["workflow-bulk"])
RtDep = Annotated[Runtime, Depends(runtime)]

BULK_MAX = 1000
PRECHECKS_AT_ONCE = 8  # below the pool size: other requests still get connections
POLL_S = 0.1
Action = Literal["pause", "resume", "restart", "retry", "terminate"]


def _simple(row: dict[str, Any], action: str, actor: str, reason: str | None) -> cmd.Command | None:
    """Pause/resume/terminate pre-checks, as routes_workflow; None = nothing to do."""
    status, wid = row["status"], row["workflow_id"]
    if status not in ("RUNNING", "PAUSED"):
        raise ApiError(409, f"Workflow {wid} is in terminal state {status}: cannot {action} it")
    if action == "pause" and status == "PAUSED":
        return None
    if action == "resume" and status != "PAUSED":
        raise ApiError(409, f"The workflow {wid} is not PAUSED so cannot resume")
    head: dict[str, Any] = {
        "workflow_id": wid,
        "root_workflow_id": row["root_workflow_id"],
        "at": now_ms(),
        "actor": actor,
    }
    if action == "terminate":
        return cmd.TerminateWorkflow(**head, reason=reason or "")
    return cmd.PauseWorkflow(**head) if action == "pause" else cmd.ResumeWorkflow(**head)


async def _command_for(
    rt: Runtime, workflow_id: str, action: str, actor: str, options: dict[str, Any]
) -> tuple[cmd.Command | None, int]:
    row = await workflow_row(rt, workflow_id)
    if action == "restart":
        return await restart_command(rt, row, actor, options["use_latest"]), row["last_seq"]
    if action == "retry":
        return await retry_command(rt, row, actor, False), row["last_seq"]
    return _simple(row, action, actor, options["reason"]), row["last_seq"]


@dataclass
class _Sent:
    command: cmd.Command
    command_id: str
    last_seq: int
    refused: asyncio.Future[Rejection]


async def _wait_outcomes(
    rt: Runtime, action: str, sent: dict[str, _Sent], timeout_s: float
) -> dict[str, str]:
    """Until every id's command is visible or refused, or the timeout; the refusals' messages."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    pending, refused = dict(sent), {}
    # restart/retry: any status (the workflow had ended: the next event can only be theirs)
    reached, accept = REACHES.get(action, (any_status, ()))
    while pending and loop.time() < deadline:
        for workflow_id, one in list(pending.items()):
            if one.refused.done():
                rejection = one.refused.result()
                if rejection.code not in accept:
                    refused[workflow_id] = rejection_error(rejection).message
                del pending[workflow_id]
        async with rt.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT workflow_id, last_seq, status FROM workflows WHERE workflow_id = ANY(%s)",
                (list(pending),),
            )
            for workflow_id, last_seq, status in await cur.fetchall():
                if last_seq > pending[workflow_id].last_seq and reached(status):
                    del pending[workflow_id]
        if pending:
            await asyncio.sleep(POLL_S)
    return refused


# Two routes, not one api_route with two methods: the OpenAPI operation ids must differ.
@router.put(
    "/{action}", operation_id="bulk_put", response_model=BulkResponse, responses=errors(400)
)
@router.post(
    "/{action}", operation_id="bulk_post", response_model=BulkResponse, responses=errors(400)
)
async def bulk(
    rt: Annotated[Runtime, Depends(runtime)],
    request: Request,
    action: Action,
    workflow_ids: Annotated[list[str], Body()],
    reason: Annotated[str | None, Query()] = None,
    useLatestDefinitions: Annotated[bool, Query()] = False,
) -> dict[str, Any]:
    """BulkResponse: ``{bulkSuccessfulResults: [id], bulkErrorResults: {id: message}}``."""
    if len(workflow_ids) > BULK_MAX:
        raise bad_request(
            f"Cannot process more than {BULK_MAX} workflows. Please use multiple requests."
        )
    ids = list(dict.fromkeys(workflow_ids))  # duplicates once, order kept
    actor = actor_of(request)
    options = {"reason": reason, "use_latest": useLatestDefinitions}
    errors: dict[str, str] = {}
    gate = asyncio.Semaphore(PRECHECKS_AT_ONCE)
    sent: dict[str, _Sent] = {}

    async def one(workflow_id: str) -> None:
        try:
            async with gate:
                command, last_seq = await _command_for(rt, workflow_id, action, actor, options)
            if command is not None:
                command_id = str(uuid.uuid4())
                command, refused = rt.rejections.expect(command, command_id)
                sent[workflow_id] = _Sent(command, command_id, int(last_seq), refused)
                await send(rt, command, command_id)
        except ApiError as exc:
            errors[workflow_id] = exc.message
        except DeliveryFailed as exc:
            errors[workflow_id] = f"not sent: {exc}"

    try:
        await asyncio.gather(*(one(i) for i in ids))
        unsent = [i for i in sent if i in errors]
        errors.update(await _wait_outcomes(rt, action, _without(sent, unsent), COMMAND_WAIT_S))
    finally:
        for one_sent in sent.values():
            rt.rejections.forget(one_sent.command, one_sent.command_id)
    return {
        "bulkSuccessfulResults": [i for i in ids if i not in errors],
        "bulkErrorResults": errors,
        "message": "Bulk Request has been processed.",
    }


def _without(sent: dict[str, _Sent], ids: list[str]) -> dict[str, _Sent]:
    return {k: v for k, v in sent.items() if k not in ids}
