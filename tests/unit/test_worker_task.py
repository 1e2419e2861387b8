"""The SDK's pure parts: how a worker function's result becomes a task status."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from orchestrator.domain.statuses import TaskStatus
from orchestrator.worker import InProgress, TaskContext, TerminalError, worker_task
from orchestrator.worker.registry import spec_of
from orchestrator.worker.task import outcome_of_exception, outcome_of_return
from orchestrator.worker.testing import Heartbeats, make_dispatch, run_local


def test_returned_dict_completes_the_task_with_it_as_output() -> None:
    outcome = outcome_of_return({"width": 64})
    assert outcome.status is TaskStatus.COMPLETED
    assert outcome.output == {"width": 64}
    assert outcome.reason is None


def test_returning_none_completes_with_empty_output() -> None:
    assert outcome_of_return(None).output == {}
    assert outcome_of_return(None).status is TaskStatus.COMPLETED


def test_non_dict_return_value_is_wrapped_as_result() -> None:
    assert outcome_of_return([1, 2]).output == {"result": [1, 2]}
    assert outcome_of_return("ok").output == {"result": "ok"}


def test_output_that_is_not_json_fails_the_task_with_a_reason() -> None:
    @worker_task("bad_output")
    def bad(_: dict[str, Any]) -> dict[str, Any]:
        return {"when": object()}

    outcome = run_local(bad, {})
    assert outcome.status is TaskStatus.FAILED
    assert outcome.reason is not None and outcome.reason.startswith("OutputNotJSON:")


def test_exception_fails_with_type_and_message_and_traceback_in_logs() -> None:
    @worker_task("boom")
    def boom(_: dict[str, Any]) -> None:
        raise ValueError("width must be positive")

    outcome = run_local(boom, {})
    assert outcome.status is TaskStatus.FAILED
    assert outcome.reason == "ValueError: width must be positive"
    assert outcome.logs[0].startswith("Traceback")
    assert any("width must be positive" in line for line in outcome.logs)
    assert any("in boom" in line for line in outcome.logs)


def test_exception_without_message_is_named_by_its_type() -> None:
    assert outcome_of_exception(KeyError()).reason == "KeyError"


def test_terminal_error_fails_without_retry_and_keeps_its_output() -> None:
    outcome = outcome_of_exception(TerminalError("card declined", output={"code": 51}))
    assert outcome.status is TaskStatus.FAILED_WITH_TERMINAL_ERROR
    assert outcome.reason == "TerminalError: card declined"
    assert outcome.output == {"code": 51}


def test_subclass_of_terminal_error_is_terminal_too() -> None:
    class Declined(TerminalError):
        pass

    outcome = outcome_of_exception(Declined("no"))
    assert outcome.status is TaskStatus.FAILED_WITH_TERMINAL_ERROR
    assert outcome.reason == "Declined: no"


def test_in_progress_asks_to_be_called_back() -> None:
    outcome = outcome_of_return(InProgress(30, {"percent": 40}, logs=["step 2"]))
    assert outcome.status is TaskStatus.IN_PROGRESS
    assert outcome.callback_after_seconds == 30
    assert outcome.output == {"percent": 40}
    assert outcome.logs == ("step 2",)


def test_negative_callback_is_clamped_to_zero() -> None:
    assert outcome_of_return(InProgress(-5)).callback_after_seconds == 0


def test_function_named_task_parameter_receives_the_context() -> None:
    @worker_task("ctx_by_name")
    def fn(task):  # type: ignore[no-untyped-def]
        return {"id": task.task_id, "retry": task.retry_count, "x": task.input["x"]}

    dispatch = make_dispatch("ctx_by_name", {"x": 1}, retry_count=2)
    outcome = run_local(fn, dispatch)
    assert outcome.output == {"id": dispatch.task_id, "retry": 2, "x": 1}


def test_function_annotated_with_task_context_receives_it() -> None:
    @worker_task("ctx_by_type")
    def fn(t: TaskContext) -> dict[str, Any]:
        return {"workflow": t.workflow_id}

    dispatch = make_dispatch("ctx_by_type", {})
    assert run_local(fn, dispatch).output == {"workflow": dispatch.workflow_instance_id}
    assert spec_of(fn) is not None and spec_of(fn).wants_context  # type: ignore[union-attr]


def test_plain_parameter_receives_the_input_dict() -> None:
    @worker_task("plain")
    def fn(data: dict[str, Any]) -> dict[str, Any]:
        return {"got": data}

    assert run_local(fn, {"a": 1}).output == {"got": {"a": 1}}


def test_function_without_parameters_is_called_without_arguments() -> None:
    @worker_task("nullary")
    def fn() -> dict[str, Any]:
        return {"ok": True}

    assert run_local(fn, {"ignored": 1}).output == {"ok": True}


def test_function_with_two_required_parameters_is_refused_at_decoration() -> None:
    with pytest.raises(TypeError, match="one parameter"):

        @worker_task("two")
        def fn(a, b):  # type: ignore[no-untyped-def]
            return None


def test_decorated_function_stays_callable_as_is() -> None:
    @worker_task("callable")
    def fn(data: dict[str, Any]) -> dict[str, Any]:
        return {"n": data["n"] + 1}

    assert fn({"n": 1}) == {"n": 2}


def test_async_function_is_run_and_mapped_the_same_way() -> None:
    @worker_task("async_ok")
    async def fn(data: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"n": data["n"] * 2}

    @worker_task("async_fail")
    async def fails(_: dict[str, Any]) -> None:
        raise TerminalError("nope")

    assert spec_of(fn).is_async  # type: ignore[union-attr]
    assert run_local(fn, {"n": 4}).output == {"n": 8}
    assert run_local(fails, {}).status is TaskStatus.FAILED_WITH_TERMINAL_ERROR


def test_heartbeat_reports_progress_while_running() -> None:
    @worker_task("beating")
    def fn(task: TaskContext) -> dict[str, Any]:
        task.heartbeat(output={"percent": 50}, logs=["half way"])
        return {"done": True}

    beats = Heartbeats([])
    outcome = run_local(fn, {}, heartbeats=beats)
    assert beats.calls == [(0, {"percent": 50}, ("half way",))]
    assert outcome.status is TaskStatus.COMPLETED


def test_context_log_lines_are_sent_with_the_result() -> None:
    @worker_task("logging")
    def fn(task: TaskContext) -> None:
        task.log("step one")
        raise RuntimeError("then it broke")

    outcome = run_local(fn, {})
    assert outcome.logs[0] == "step one"
    assert outcome.reason == "RuntimeError: then it broke"


def test_decorator_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        worker_task("")
    with pytest.raises(ValueError):
        worker_task("x", concurrency=0)


def test_context_repr_never_shows_the_input() -> None:
    ctx = TaskContext(make_dispatch("t", {"password": "hunter22"}), {"password": "hunter22"})
    assert "hunter22" not in repr(ctx)
