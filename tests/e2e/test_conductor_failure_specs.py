"""Conductor's failure semantics on the real stack, over REST, with HTTP polling workers.

Each test follows a Conductor test-harness spec (its name says which) with the definitions the
spec registers, and checks what Conductor OSS 3.32.3 answered for the same definitions and
workers (tests/scenarios/test_conductor_failure_scenarios.py has the pure-core versions). One
deployment for the module: processor, projector and API as `orchestrator` subprocesses on their
own topic prefix and Postgres schema; the workers are this test polling
`GET /api/tasks/poll/{type}` and answering `POST /api/tasks`, as Conductor SDK workers do. At the
end, `orchestrator replay --verify` folds the whole log and compares it with the read model.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import readmodel_support as support
from tests.auth_support import bearer, new_key
from tests.runtime_support import Runtime

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

SCRIPT = "if ($.input.a==1){return {testvalue: true}} else{return {testvalue: false}}"
ENDED = ("COMPLETED", "FAILED", "TERMINATED", "TIMED_OUT")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spawn(rt: Runtime, name: str, args: list[str], env: dict[str, str]) -> None:
    log = open(rt.log_dir / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", *args],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    rt.processes.append(proc)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class Api:
    """The REST API as a Conductor client and an HTTP polling worker use it."""

    def __init__(self, url: str, key: str) -> None:
        self.http = httpx.Client(base_url=f"{url}/api", timeout=30, headers=bearer(key))

    def register(self, *workflows: dict[str, Any], task_defs: list[dict[str, Any]] = ()) -> None:  # type: ignore[assignment]
        if task_defs:
            defs = [{"timeoutSeconds": 0, "responseTimeoutSeconds": 3600, **d} for d in task_defs]
            self.ok(self.http.post("/metadata/taskdefs", json=defs))
        for definition in workflows:
            self.ok(self.http.post("/metadata/workflow", json={"version": 1, **definition}))

    def start(self, name: str, wf_input: dict[str, Any] | None = None, **request: Any) -> str:
        answer = self.http.post(
            "/workflow", json={"name": name, "input": wf_input or {}, **request}
        )
        assert answer.status_code in (200, 202), answer.text
        return answer.text

    def workflow(self, workflow_id: str) -> dict[str, Any] | None:
        answer = self.http.get(f"/workflow/{workflow_id}", params={"includeTasks": True})
        if answer.status_code == 404:
            return None  # not projected yet
        return self.ok(answer).json()

    def wait(self, workflow_id: str, statuses: tuple[str, ...] = ENDED, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            found = self.workflow(workflow_id)
            if found is not None and found["status"] in statuses:
                return found
            assert time.monotonic() < deadline, f"{workflow_id} not {statuses}: {found}"
            time.sleep(0.2)

    def poll(self, task_type: str, timeout: float = 60) -> dict[str, Any]:
        """One task of `task_type`, as an HTTP polling worker gets it."""
        deadline = time.monotonic() + timeout
        while True:
            answer = self.http.get(f"/tasks/poll/{task_type}", params={"workerid": "fid-w"})
            if answer.status_code == 200 and answer.content:
                return answer.json()
            assert answer.status_code == 204, answer.text
            assert time.monotonic() < deadline, f"no {task_type} task within {timeout} s"
            time.sleep(0.1)

    def answer(
        self, task: dict[str, Any], status: str, output: Any = None, reason: str | None = None
    ) -> None:
        result = {
            "workflowInstanceId": task["workflowInstanceId"],
            "taskId": task["taskId"],
            "status": status,
            "outputData": output or {},
            "reasonForIncompletion": reason,
            "workerId": "fid-w",
        }
        self.ok(self.http.post("/tasks", json=result))

    def work(
        self,
        task_type: str,
        status: str = "COMPLETED",
        output: Any = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        task = self.poll(task_type)
        self.answer(task, status, output, reason)
        return task

    def search(self, query: str) -> list[dict[str, Any]]:
        answer = self.ok(self.http.get("/workflow/search", params={"query": query}))
        return answer.json()["results"]

    @staticmethod
    def ok(answer: httpx.Response) -> httpx.Response:
        assert answer.status_code < 300, f"{answer.request.url}: {answer.status_code} {answer.text}"
        return answer


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    base = support.database_url()
    schema = support.create_schema(base)
    rt = Runtime(prefix=f"e2e-fail-{uuid.uuid4().hex[:10]}", log_dir=tmp_path_factory.mktemp("fs"))
    rt.create_topics()
    env = {**rt.env(), "ORCHESTRATOR_DATABASE_URL": support.schema_url(base, schema)}
    port = _free_port()
    try:
        _spawn(rt, "processor", ["processor"], env)
        _spawn(rt, "projector", ["projector"], env)
        _spawn(rt, "api", ["api", "--host", "127.0.0.1", "--port", str(port)], env)
        url = f"http://127.0.0.1:{port}"
        support.wait_until(lambda: _healthy(url), 90, "the API to answer /health")
        support.wait_until(  # see test_conductor_sdk.py: starts before this are not consumed
            lambda: any(b"definitions loaded" in p.read_bytes() for p in rt.log_dir.glob("proc*")),
            90,
            "the processor to load the definitions",
        )
        client = Api(url, new_key(env["ORCHESTRATOR_DATABASE_URL"], "admin", "fidelity"))
        yield client
        _verify(env)
    finally:
        rt.stop_all()
        rt.delete_topics()
        support.drop_schema(base, schema)


def _verify(env: dict[str, str]) -> None:
    """The log folded by the engine's own code equals the read model (failed names included)."""
    verify = subprocess.run(
        [sys.executable, "-m", "orchestrator", "replay", "--verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert verify.returncode == 0, verify.stdout[-3000:] + verify.stderr[-3000:]
    summary = verify.stdout.strip().splitlines()[-1]
    compared = int(re.search(r"(\d[\d,]*) compared", summary).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert summary.endswith("OK") and compared >= 10, summary


def lam(ref: str, script: str = SCRIPT, **params: Any) -> dict[str, Any]:
    inputs = {"input": "${workflow.input}", "scriptExpression": script, **params}
    return {"name": "lambda", "taskReferenceName": ref, "type": "LAMBDA", "inputParameters": inputs}


def simple(name: str, ref: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "taskReferenceName": ref, "type": "SIMPLE", **fields}


def by_ref(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["referenceTaskName"]: t for t in run["tasks"]}


def statuses(run: dict[str, Any]) -> list[tuple[str, str]]:
    return [(t["taskType"], t["status"]) for t in run["tasks"]]


# --- FailureWorkflowSpec / LambdaAndTerminateTaskSpec -----------------------------------------


def test_failure_workflow_spec_failure_workflow_gets_failed_workflow(api: Api) -> None:
    api.register(
        {"name": "fs_failure_workflow", "tasks": [lam("lambda0")]},
        {
            "name": "fs_terminate_task_failed_wf",
            "failureWorkflow": "fs_failure_workflow",
            "tasks": [
                lam("lambda0"),
                {
                    "name": "terminate",
                    "taskReferenceName": "terminate0",
                    "type": "TERMINATE",
                    "inputParameters": {
                        "terminationStatus": "FAILED",
                        "terminationReason": "Early exit in terminate",
                        "workflowOutput": "${lambda0.output}",
                    },
                },
                simple("fs_integration_task_2", "t2"),
            ],
        },
        task_defs=[{"name": "fs_integration_task_2"}],
    )
    wid = api.start("fs_terminate_task_failed_wf", {"a": 1}, correlationId="testId")
    run = api.wait(wid)
    assert run["status"] == "FAILED"
    assert run["reasonForIncompletion"] == "Early exit in terminate"
    assert [(t["taskType"], t["status"], t["seq"]) for t in run["tasks"]] == [
        ("LAMBDA", "COMPLETED", 1),
        ("TERMINATE", "COMPLETED", 2),
    ]
    failure_id = run["output"]["conductor.failure_workflow"]
    assert run["output"] == {
        "result": {"testvalue": True},
        "conductor.failure_workflow": failure_id,
    }
    assert (run["failedReferenceTaskNames"], run["failedTaskNames"]) == ([], [])
    failure = api.wait(failure_id)
    assert failure["status"] == "COMPLETED" and failure["correlationId"] == "testId"
    assert failure["input"]["workflowId"] == wid
    assert failure["input"]["failureTaskId"] == run["tasks"][1]["taskId"]
    assert failure["input"]["failedWorkflow"]["workflowId"] == wid
    assert statuses(failure) == [("LAMBDA", "COMPLETED")]
    assert failure["tasks"][0]["outputData"] == {"result": {"testvalue": True}}


def test_lambda_and_terminate_task_spec_completed_terminate_keeps_conductors_reason(
    api: Api,
) -> None:
    api.register(
        {
            "name": "fs_lambda_terminate",
            "tasks": [
                lam("l1", "return {n: $.n + 1, me: $.me};", n=1, me="${CPEWF_TASK_ID}"),
                {
                    "name": "terminate",
                    "taskReferenceName": "term",
                    "type": "TERMINATE",
                    "inputParameters": {
                        "terminationStatus": "COMPLETED",
                        "workflowOutput": "${l1.output.result}",
                    },
                },
            ],
        }
    )
    run = api.wait(api.start("fs_lambda_terminate"))
    lambda_task, term = run["tasks"]
    assert lambda_task["outputData"] == {"result": {"n": 2, "me": lambda_task["taskId"]}}
    assert run["status"] == "COMPLETED" and run["output"] == {"n": 2, "me": lambda_task["taskId"]}
    assert (
        run["reasonForIncompletion"] == f"Workflow is COMPLETED by TERMINATE task: {term['taskId']}"
    )


# --- WorkflowAndTaskConfigurationSpec / SimpleWorkflowSpec ------------------------------------


def test_workflow_and_task_configuration_spec_permissive_task(api: Api) -> None:
    """Failed twice (retried once), then integration_task_2 runs; the workflow FAILS at its end
    with the permissive task's reason; the failed names show over REST and in search."""
    api.register(
        {
            "name": "fs_permissive_task_wf",
            "tasks": [
                simple("fs_task_permissive", "t1", permissive=True),
                simple("fs_integration_task_2", "t2"),
            ],
        },
        task_defs=[{"name": "fs_task_permissive", "retryCount": 1, "retryDelaySeconds": 0}],
    )
    wid = api.start("fs_permissive_task_wf", {"param1": "p1 value"})
    api.work("fs_task_permissive", "FAILED", reason="NETWORK ERROR")
    api.work("fs_task_permissive", "FAILED", reason="NETWORK ERROR")
    running = api.wait(wid, ("RUNNING",))
    assert running["failedReferenceTaskNames"] == []  # recorded when it ends
    api.work("fs_integration_task_2", output={"t2": "done"})
    run = api.wait(wid)
    assert statuses(run) == [
        ("fs_task_permissive", "FAILED"),
        ("fs_task_permissive", "FAILED"),
        ("fs_integration_task_2", "COMPLETED"),
    ]
    second = run["tasks"][1]["taskId"]
    assert run["status"] == "FAILED"
    assert run["reasonForIncompletion"] == (
        f"Task {second} failed with status: FAILED and reason: 'NETWORK ERROR'"
    )
    assert run["output"] == {"t2": "done"}
    assert run["failedReferenceTaskNames"] == ["t1"]
    assert run["failedTaskNames"] == ["fs_task_permissive"]
    [summary] = api.search(f"workflowId = {wid}")
    assert summary["failedReferenceTaskNames"] == "t1"
    assert summary["failedTaskNames"] == ["fs_task_permissive"]


def test_simple_workflow_spec_retry_at_workflow_level_keeps_failed_names_and_task_ids(
    api: Api,
) -> None:
    """p3 = ${CPEWF_TASK_ID} is each attempt's id; after a workflow retry the failed names are
    still shown while it runs and when it completes."""
    api.register(
        {
            "name": "fs_integration_test_wf",
            "tasks": [
                simple("fs_integration_task_1", "t1", inputParameters={"p3": "${CPEWF_TASK_ID}"}),
                simple("fs_integration_task_2", "t2"),
            ],
        },
        task_defs=[{"name": "fs_integration_task_1", "retryCount": 1, "retryDelaySeconds": 0}],
    )
    wid = api.start("fs_integration_test_wf")
    for _ in range(2):
        task = api.work("fs_integration_task_1", "FAILED", reason="failure...0")
        assert task["inputData"]["p3"] == task["taskId"]
    failed = api.wait(wid)
    assert failed["status"] == "FAILED" and failed["failedReferenceTaskNames"] == ["t1"]
    api.ok(api.http.post(f"/workflow/{wid}/retry"))
    running = api.wait(wid, ("RUNNING",))
    assert running["failedReferenceTaskNames"] == ["t1"]  # kept through the retry
    task = api.work("fs_integration_task_1")
    assert task["inputData"]["p3"] == task["taskId"]
    api.work("fs_integration_task_2")
    run = api.wait(wid)
    assert run["status"] == "COMPLETED"
    assert (run["failedReferenceTaskNames"], run["failedTaskNames"]) == (
        ["t1"],
        ["fs_integration_task_1"],
    )
    [summary] = api.search(f"workflowId = {wid}")
    assert (summary["status"], summary["failedReferenceTaskNames"]) == ("COMPLETED", "t1")


def test_simple_workflow_spec_non_restartable_workflow_restarts_only_when_not_completed(
    api: Api,
) -> None:
    api.register(
        {
            "name": "fs_wf_non_restartable",
            "restartable": False,
            "tasks": [simple("fs_nr_task", "t1")],
        },
        task_defs=[{"name": "fs_nr_task", "retryCount": 0}],
    )
    wid = api.start("fs_wf_non_restartable")
    api.work("fs_nr_task", "FAILED", reason="boom")
    assert api.wait(wid)["status"] == "FAILED"
    assert api.http.post(f"/workflow/{wid}/restart").status_code in (202, 204)
    api.work("fs_nr_task")
    assert api.wait(wid)["status"] == "COMPLETED"
    refused = api.http.post(f"/workflow/{wid}/restart")
    assert refused.status_code == 404
    assert f"fs_wf_non_restartable.1/{wid}.COMPLETED is non-restartable" in refused.text


# --- ForkJoinSpec / DynamicForkJoinSpec --------------------------------------------------------


def _fork(branches: list[list[dict[str, Any]]], join_on: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "name": "fork",
            "taskReferenceName": "fanouttask",
            "type": "FORK_JOIN",
            "forkTasks": branches,
        },
        {"name": "join", "taskReferenceName": "fanouttask_join", "type": "JOIN", "joinOn": join_on},
    ]


def test_fork_join_spec_permissive_failure_flow(api: Api) -> None:
    api.register(
        {
            "name": "fs_FanInOutPermissiveTest",
            "tasks": [
                *_fork(
                    [
                        [simple("fs_fork_1", "t1", permissive=True)],
                        [simple("fs_fork_2", "t2", permissive=True)],
                    ],
                    ["t1", "t2"],
                ),
                simple("fs_fork_3", "t3"),
            ],
        },
        task_defs=[{"name": f"fs_fork_{n}", "retryCount": 0} for n in (1, 2, 3)],
    )
    wid = api.start("fs_FanInOutPermissiveTest")
    api.work("fs_fork_1", "FAILED", {"x": 1}, reason="Failed...")
    waiting = api.wait(wid, ("RUNNING",))
    assert by_ref(waiting)["fanouttask_join"]["status"] == "IN_PROGRESS"
    api.work("fs_fork_2", output={"b": 2})
    run = api.wait(wid)
    assert statuses(run) == [
        ("FORK", "COMPLETED"),
        ("fs_fork_1", "FAILED"),
        ("fs_fork_2", "COMPLETED"),
        ("JOIN", "FAILED"),
    ]
    join = by_ref(run)["fanouttask_join"]
    assert join["reasonForIncompletion"] == "Failed..."
    assert run["status"] == "FAILED"
    assert run["reasonForIncompletion"] == (
        f"Task {join['taskId']} failed with status: FAILED and reason: 'Failed...'"
    )
    assert run["failedReferenceTaskNames"] == ["fanouttask_join", "t1"]


def test_fork_join_spec_optional_sub_workflow_forks_join_completed_with_errors(api: Api) -> None:
    child = {"name": "fs_sub_workflow", "tasks": [simple("fs_simple_task_in_sub_wf", "s")]}
    sub = [
        {
            "name": ref,
            "taskReferenceName": ref,
            "type": "SUB_WORKFLOW",
            "optional": True,
            "subWorkflowParam": {"name": "fs_sub_workflow"},
        }
        for ref in ("st1", "st2")
    ]
    api.register(
        child,
        {"name": "fs_fork_join_optional_sw", "tasks": _fork([[sub[0]], [sub[1]]], ["st1", "st2"])},
        task_defs=[{"name": "fs_simple_task_in_sub_wf", "retryCount": 0}],
    )
    wid = api.start("fs_fork_join_optional_sw")
    api.work("fs_simple_task_in_sub_wf", "FAILED", reason="Failed....")
    api.work("fs_simple_task_in_sub_wf", "FAILED", reason="Failed....")
    run = api.wait(wid)
    assert run["status"] == "COMPLETED"
    assert statuses(run) == [
        ("FORK", "COMPLETED"),
        ("SUB_WORKFLOW", "COMPLETED_WITH_ERRORS"),
        ("SUB_WORKFLOW", "COMPLETED_WITH_ERRORS"),
        ("JOIN", "COMPLETED_WITH_ERRORS"),
    ]
    tasks = by_ref(run)
    assert tasks["fanouttask_join"]["reasonForIncompletion"] == (
        f"st1/{tasks['st1']['taskId']} st2/{tasks['st2']['taskId']} completed with errors"
    )
    for ref in ("st1", "st2"):
        assert api.wait(tasks[ref]["subWorkflowId"])["status"] == "FAILED"


def test_dynamic_fork_join_spec_fail_when_task_input_is_invalid(api: Api) -> None:
    api.register(
        {
            "name": "fs_dynamic_fork_join_workflow",
            "tasks": [
                simple("fs_dyn_1", "t1"),
                {
                    "name": "dynamicfanouttask",
                    "taskReferenceName": "dynamicfanouttask",
                    "type": "FORK_JOIN_DYNAMIC",
                    "inputParameters": {
                        "dynamicTasks": "${t1.output.dynamicTasks}",
                        "dynamicTasksInput": "${t1.output.dynamicTasksInput}",
                    },
                    "dynamicForkTasksParam": "dynamicTasks",
                    "dynamicForkTasksInputParamName": "dynamicTasksInput",
                },
                {"name": "join", "taskReferenceName": "dynamicfanouttask_join", "type": "JOIN"},
            ],
        },
        task_defs=[{"name": "fs_dyn_1", "retryCount": 0}, {"name": "fs_dyn_2"}],
    )
    wid = api.start("fs_dynamic_fork_join_workflow")
    dynamic = [
        {"name": "fs_dyn_2", "taskReferenceName": "xdt1"},
        {"name": "fs_dyn_2", "taskReferenceName": "xdt2"},
    ]
    out = {"dynamicTasks": dynamic, "dynamicTasksInput": {"xdt1": "v1", "xdt2": "v2"}}
    api.work("fs_dyn_1", output=out)
    run = api.wait(wid)
    assert run["status"] == "FAILED"
    assert statuses(run) == [("fs_dyn_1", "COMPLETED")]
    assert run["reasonForIncompletion"].startswith(
        "Tasks could not be dynamically forked due to invalid input"
    )
