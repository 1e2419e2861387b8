"""The benchmark workload: definitions, the hand-off graph between worker steps, payloads.

13 steps per workflow: 6 worker tasks, FORK_JOIN + JOIN, SWITCH, INLINE and SET_VARIABLE in
the parent, and a SUB_WORKFLOW whose child has 1 worker task (7 worker executions in all, as
in Orkes' workload: 1,450 task executions/s for 210 workflows/s).
"""

from __future__ import annotations

import random
import string
from typing import Any

WORKFLOW = "bench_workflow"
CHILD = "bench_child"
TASK_TYPES = ("bench_fetch", "bench_validate", "bench_transform", "bench_score", "bench_store",
              "bench_notify")  # fmt: skip
WORKER_STEPS_PER_WORKFLOW = 7
STEPS_PER_WORKFLOW = 13


def _simple(task_type: str, ref: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": task_type,
        "taskReferenceName": ref,
        "type": "SIMPLE",
        "inputParameters": inputs,
    }


def child_definition() -> dict[str, Any]:
    return {
        "name": CHILD,
        "version": 1,
        "schemaVersion": 2,
        "tasks": [_simple("bench_notify", "notify", {"orderId": "${workflow.input.orderId}"})],
        "outputParameters": {"receipt": "${notify.output.id}"},
    }


def workflow_definition() -> dict[str, Any]:
    order = "${workflow.input.orderId}"
    fork = {
        "name": "fork",
        "taskReferenceName": "fork",
        "type": "FORK_JOIN",
        "forkTasks": [
            [_simple("bench_transform", "transform_a", {"ref": "${validate.output.id}"})],
            [_simple("bench_transform", "transform_b", {"ref": "${validate.output.id}"})],
        ],
    }
    switch = {
        "name": "route",
        "taskReferenceName": "route",
        "type": "SWITCH",
        "evaluatorType": "value-param",
        "expression": "tier",
        "inputParameters": {"tier": "${fetch.output.tier}"},
        "decisionCases": {"gold": [_simple("bench_score", "score_gold", {"orderId": order})]},
        "defaultCase": [_simple("bench_score", "score", {"orderId": order})],
    }
    return {
        "name": WORKFLOW,
        "version": 1,
        "schemaVersion": 2,
        "inputParameters": ["orderId", "customer"],
        "tasks": [
            _simple(
                "bench_fetch", "fetch", {"orderId": order, "customer": "${workflow.input.customer}"}
            ),
            _simple(
                "bench_validate", "validate", {"orderId": order, "items": "${fetch.output.items}"}
            ),
            fork,
            {
                "name": "join",
                "taskReferenceName": "join",
                "type": "JOIN",
                "joinOn": ["transform_a", "transform_b"],
            },
            switch,
            {
                "name": "total",
                "taskReferenceName": "total",
                "type": "INLINE",
                "inputParameters": {
                    "evaluatorType": "javascript",
                    "expression": "$.a + $.b",
                    "a": "${transform_a.output.score}",
                    "b": "${transform_b.output.score}",
                },
            },
            {
                "name": "remember",
                "taskReferenceName": "remember",
                "type": "SET_VARIABLE",
                "inputParameters": {"total": "${total.output.result}"},
            },
            {
                "name": "publish",
                "taskReferenceName": "publish",
                "type": "SUB_WORKFLOW",
                "subWorkflowParam": {"name": CHILD, "version": 1},
                "inputParameters": {"orderId": order},
            },
            _simple(
                "bench_store", "store", {"orderId": order, "receipt": "${publish.output.receipt}"}
            ),
        ],
        "outputParameters": {
            "stored": "${store.output.id}",
            "total": "${workflow.variables.total}",
        },
    }


def task_definitions() -> list[dict[str, Any]]:
    return [
        {"name": t, "retryCount": 0, "timeoutSeconds": 0, "responseTimeoutSeconds": 60}
        for t in TASK_TYPES
    ]


# Which worker results hand off to which worker step's dispatch (through the system tasks in
# between): the dispatch latency of a step is measured from the LAST of its triggers' results.
HANDOFFS: dict[str, tuple[str, ...]] = {
    "validate": ("fetch",),
    "transform_a": ("validate",),
    "transform_b": ("validate",),
    "score": ("transform_a", "transform_b"),
    "score_gold": ("transform_a", "transform_b"),
    "notify": ("score", "score_gold"),  # through INLINE, SET_VARIABLE and the child's start
    "store": ("notify",),  # across workflows: the child's completion resumes the parent
}


def workflow_input(rng: random.Random) -> dict[str, Any]:
    return {
        "orderId": f"o-{rng.getrandbits(48):012x}",
        "customer": {"id": rng.randrange(1, 10**6), "country": rng.choice(["DE", "FR", "US"])},
    }


_ALPHABET = string.ascii_letters + string.digits
# Random text drawn once; each result takes a slice at a random offset. Drawing 900 random
# characters per result cost ~0.4 ms, more than the whole SDK's work per task (profiled).
_NOISE = "".join(random.Random(11).choices(_ALPHABET, k=1 << 17))


def random_output(payload_bytes: int, rng: random.Random | None = None) -> dict[str, Any]:
    """A realistic-looking worker result whose JSON is about ``payload_bytes`` long."""
    r = rng or random
    head = {
        "id": f"{r.getrandbits(64):016x}",
        "tier": r.choice(["gold", "silver", "bronze"]),
        "score": r.randrange(0, 1000),
        "items": r.randrange(1, 20),
        "tags": r.sample(["new", "vip", "eu", "us", "promo", "bulk", "gift"], 3),
    }
    fill = max(0, payload_bytes - 120)  # the head and the JSON punctuation are ~120 bytes
    head["data"] = _noise(r, fill)
    return head


def _noise(r: random.Random | Any, size: int) -> str:
    if size > len(_NOISE):
        return "".join(r.choices(_ALPHABET, k=size))
    start = r.randrange(0, len(_NOISE) - size + 1)
    return _NOISE[start : start + size]
