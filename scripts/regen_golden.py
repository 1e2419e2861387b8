"""Regenerate the golden histories in tests/golden/*.json (run explicitly, review the diff).

Each file holds the definitions, every command the in-memory runtime processed (worker reports,
timer firings, operations, rejected ones too), the events they produced and a summary of the
final states. tests/golden/test_golden.py re-decides the commands and must get the same bytes.

tests/golden/legacy/ keeps histories recorded under older rules (not regenerated here): they
must still fold, and go on in flight, as they did.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from orchestrator.domain import commands as cmd
from orchestrator.domain import serde
from orchestrator.domain.definitions import RetryLogic, TaskDef, WorkflowDef, WorkflowTimeoutPolicy
from orchestrator.domain.definitions_json import task_def_to_json, workflow_def_to_json
from orchestrator.domain.state import WorkflowState
from orchestrator.domain.statuses import TaskStatus
from orchestrator.testing import InMemoryRuntime, Reply, always, fail_times, never
from orchestrator.testing.builders import task, workflow
from orchestrator.testing.context import dict_context

GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "golden"
TDS = [
    TaskDef(name="a", retry_count=0, response_timeout_seconds=60),
    TaskDef(name="b", retry_count=0, response_timeout_seconds=60),
    TaskDef(
        name="flaky",
        retry_count=3,
        retry_delay_seconds=2,
        retry_logic=RetryLogic.EXPONENTIAL_BACKOFF,
        backoff_jitter_ms=500,
        response_timeout_seconds=60,
    ),
    TaskDef(name="lost", retry_count=1, retry_delay_seconds=1, response_timeout_seconds=10),
]


def summary(state: WorkflowState) -> dict:
    tasks = sorted(state.tasks.values(), key=lambda t: t.seq)
    return {
        "status": str(state.status),
        "output": state.output,
        "variables": state.variables,
        "reason": state.reason,
        "seq": state.seq,
        "generation": state.generation,
        "tasks": [[t.ref, str(t.status), t.retry_count, t.generation] for t in tasks],
        "failed_names": [
            None if n is None else list(n)
            for n in (state.failed_ref_names, state.failed_task_names)
        ],
    }


def record(
    name: str,
    defs: list[WorkflowDef],
    workers: dict,
    drive: Callable[[InMemoryRuntime], None],
    ack_after_ms: int | None = None,
) -> dict:
    rt = InMemoryRuntime(dict_context(defs, TDS), workers=workers, ack_after_ms=ack_after_ms)
    drive(rt)
    rt.run_until_idle()
    events = [serde.to_jsonable(e) for wid in rt.events for e in rt.events[wid]]
    events.sort(key=lambda e: (e["workflow_id"], e["seq"]))
    return {
        "name": name,
        "workflow_defs": [workflow_def_to_json(d) for d in defs],
        "task_defs": [task_def_to_json(t) for t in TDS],
        "commands": [serde.to_jsonable(c) for c in rt.commands],
        "events": events,
        "final": {wid: summary(s) for wid, s in sorted(rt.states.items())},
    }


def start(wf: str, wid: str = "wf-1", **kw) -> Callable[[InMemoryRuntime], None]:
    def drive(rt: InMemoryRuntime) -> None:
        rt.submit(
            cmd.StartWorkflow(workflow_id=wid, at=rt.clock.now, actor="api:golden", name=wf, **kw)
        )

    return drive


def then(*steps: Callable[[InMemoryRuntime], None]) -> Callable[[InMemoryRuntime], None]:
    def drive(rt: InMemoryRuntime) -> None:
        for step in steps:
            step(rt)

    return drive


def op(cls: type, wid: str = "wf-1", after_ms: int = 0, **kw) -> Callable[[InMemoryRuntime], None]:
    def drive(rt: InMemoryRuntime) -> None:
        rt.advance(after_ms)
        rt.submit(cls(workflow_id=wid, at=rt.clock.now, actor="api:golden", **kw))

    return drive


def check_back_later(callback_s: int, output: dict) -> Callable[[object], Reply]:
    """IN_PROGRESS with a callback on the first delivery, then COMPLETED with `output`."""
    replies = iter([Reply(TaskStatus.IN_PROGRESS, {"step": 1}, callback_after_seconds=callback_s)])
    return lambda dispatch: next(replies, Reply(output=output))


def scenarios() -> dict[str, dict]:
    ok = always({"ok": True})
    seq = workflow(
        "sequential",
        task("a", input_parameters={"x": "${workflow.input.x}"}),
        task("b", input_parameters={"y": "${a.output.ok}"}),
    )
    retry = workflow("retries", task("f", name="flaky"))
    opt = workflow("optional", task("a", optional=True), task("b"))
    fork = workflow(
        "fork_join",
        task("f", "FORK_JOIN", fork_tasks=((task("a"),), (task("b"), task("n", "NOOP")))),
        task("j", "JOIN", join_on=("a", "n")),
        output_parameters={"joined": "${j.output}"},
    )
    switch = workflow(
        "switch",
        task(
            "s",
            "SWITCH",
            evaluator_type="value-param",
            expression="kind",
            input_parameters={"kind": "${workflow.input.kind}"},
            decision_cases={"x": (task("a"),)},
            default_case=(task("b"),),
        ),
    )
    inline = workflow(
        "inline_jq",
        task("v", "SET_VARIABLE", input_parameters={"n": "${workflow.input.n}"}),
        task(
            "i",
            "INLINE",
            input_parameters={
                "evaluatorType": "value-param",
                "expression": "n",
                "n": "${workflow.variables.n}",
            },
        ),
        task(
            "q",
            "JSON_JQ_TRANSFORM",
            input_parameters={"v": "${i.output.result}", "queryExpression": "{double: (.v * 2)}"},
        ),
        output_parameters={"r": "${q.output.result}"},
    )
    term = workflow(
        "terminate",
        task("a"),
        task(
            "t",
            "TERMINATE",
            input_parameters={
                "terminationStatus": "COMPLETED",
                "workflowOutput": {"by": "terminate"},
            },
        ),
        task("b"),
    )
    timeout = workflow("timeout", task("l", name="lost"))
    wf_timeout = workflow(
        "wf_timeout",
        task("a"),
        timeout_seconds=30,
        timeout_policy=WorkflowTimeoutPolicy.TIME_OUT_WF,
        failure_workflow="cleanup",
    )
    cleanup = workflow("cleanup", task("n", "NOOP"))
    fork_retry = workflow(
        "fork_retry",
        task("f", "FORK_JOIN", fork_tasks=((task("a"),), (task("b"),))),
        task("j", "JOIN", join_on=("a", "b")),
        task("n", "NOOP"),
    )
    permissive = workflow(
        "permissive",
        task(
            "pf",
            "FORK_JOIN",
            fork_tasks=((task("a", permissive=True),), (task("b"),)),
        ),
        task("pj", "JOIN", join_on=("a", "b")),
        failure_workflow="cleanup",
    )
    pause = workflow("pause_resume", task("a"), task("b"))
    failing = workflow("restart_rerun", task("a"), task("b"))
    return {
        "sequential": record(
            "sequential", [seq], {"a": ok, "b": ok}, start("sequential", input={"x": 1})
        ),
        # Workers that report fast results with their pickup time instead of a TaskStarted
        # (the SDK's deferred acknowledgement, ADR 0007): successes and failures.
        "deferred_ack": record(
            "deferred_ack",
            [seq, retry],
            {"a": ok, "b": ok, "flaky": fail_times(1, {"done": 1})},
            then(start("sequential", input={"x": 1}), start("retries", "wf-2")),
            ack_after_ms=100,
        ),
        "retries_with_backoff": record(
            "retries_with_backoff", [retry], {"flaky": fail_times(2, {"done": 1})}, start("retries")
        ),
        "optional_failure": record(
            "optional_failure",
            [opt],
            {"a": always(status=TaskStatus.FAILED), "b": ok},
            start("optional"),
        ),
        "fork_join": record(
            "fork_join", [fork], {"a": always({"A": 1}), "b": ok}, start("fork_join")
        ),
        "switch": record(
            "switch", [switch], {"a": ok, "b": ok}, start("switch", input={"kind": "y"})
        ),
        # A worker that checks back later: IN_PROGRESS with callbackAfterSeconds, then done.
        "in_progress_callback": record(
            "in_progress_callback",
            [seq],
            {"a": check_back_later(5, {"step": 2}), "b": ok},
            start("sequential", input={"x": 1}),
        ),
        # A branch fails, the workflow is retried: the JOIN reopens in place (Conductor).
        "fork_retry": record(
            "fork_retry",
            [fork_retry],
            {"a": fail_times(1, {"A": 1}), "b": always(after_ms=5000)},
            then(start("fork_retry"), op(cmd.RetryWorkflow, after_ms=1000)),
        ),
        "inline_jq": record("inline_jq", [inline], {}, start("inline_jq", input={"n": 21})),
        "terminate_task": record("terminate_task", [term], {"a": ok, "b": ok}, start("terminate")),
        "response_timeout": record(
            "response_timeout", [timeout], {"lost": never()}, start("timeout")
        ),
        "workflow_timeout_failure_workflow": record(
            "workflow_timeout_failure_workflow",
            [wf_timeout, cleanup],
            {"a": never()},
            start("wf_timeout", input={"order": 7}),
        ),
        # A permissive task fails: its JOIN waits for the other branch, then fails; the failure
        # workflow gets the failed workflow.
        "permissive_failure": record(
            "permissive_failure",
            [permissive, cleanup],
            {"a": always(status=TaskStatus.FAILED), "b": always({"B": 2}, after_ms=500)},
            start("permissive", input={"order": 8}),
        ),
        "pause_resume": record(
            "pause_resume",
            [pause],
            {"a": always(after_ms=1000), "b": ok},
            then(
                start("pause_resume"),
                op(cmd.PauseWorkflow),
                lambda rt: rt.advance(5000),
                op(cmd.ResumeWorkflow),
            ),
        ),
        "restart_history": record(
            "restart_history",
            [failing],
            {"a": ok, "b": fail_times(1)},
            then(
                start("restart_rerun"),
                op(cmd.RestartWorkflow, after_ms=1000),
                op(cmd.TerminateWorkflow, reason="again"),
                op(cmd.RetryWorkflow),
            ),
        ),
    }


def main() -> int:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, content in scenarios().items():
        path = GOLDEN / f"{name}.json"
        path.write_text(json.dumps(content, sort_keys=True, indent=1) + "\n")
        print(f"wrote {path.relative_to(GOLDEN.parent.parent)} ({len(content['events'])} events)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
