"""The demo: valid Conductor definitions, deterministic flakiness, registration over REST."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from orchestrator.demo import workers
from orchestrator.demo.setup import DemoSetupError, definition, register_demo, start_demo
from orchestrator.domain.statuses import TaskStatus
from orchestrator.domain.validation import load_task_def, load_workflow_def
from orchestrator.worker.registry import spec_of, workers_in
from orchestrator.worker.testing import make_dispatch, run_local


def _task_defs() -> dict[str, Any]:
    return {d["name"]: load_task_def(d) for d in definition("taskdefs")}


def test_demo_definitions_pass_the_registration_rules() -> None:
    defs = _task_defs()
    child = load_workflow_def(definition("publish_images"), defs.get)
    main = load_workflow_def(definition("image_pipeline"), defs.get)
    assert [t.type for t in main.tasks] == ["SIMPLE", "FORK_JOIN", "JOIN", "SIMPLE", "SUB_WORKFLOW"]
    assert child.tasks[0].name == "upload"


def test_fork_resizes_to_three_different_sizes() -> None:
    fork = definition("image_pipeline")["tasks"][1]
    widths = [branch[0]["inputParameters"]["width"] for branch in fork["forkTasks"]]
    assert len(set(widths)) == 3


def test_watermark_retries_once_after_one_second() -> None:
    td = _task_defs()["watermark"]
    assert (td.retry_count, td.retry_logic, td.retry_delay_seconds) == (2, "FIXED", 1)


def test_every_task_of_the_demo_has_a_worker() -> None:
    served = {spec.task_type for spec in workers_in(workers)}
    assert served == {d["name"] for d in definition("taskdefs")}


def test_watermark_fails_first_attempt_and_succeeds_on_retry() -> None:
    images = [{"id": "a", "width": 160}]
    first = run_local(workers.watermark, make_dispatch("watermark", {"images": images}))
    retry = run_local(
        workers.watermark, make_dispatch("watermark", {"images": images}, retry_count=1)
    )
    assert first.status is TaskStatus.FAILED
    assert first.reason is not None and first.reason.startswith("ConnectionError:")
    assert retry.status is TaskStatus.COMPLETED
    assert retry.output["images"][0]["watermark"]


def test_pipeline_workers_chain_their_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "_pause", lambda *a: None)
    image = run_local(workers.fetch_image, {"imageUrl": "https://x/cat.jpg"}).output["image"]
    small = run_local(workers.resize_image, {"image": image, "width": 160, "label": "s"})
    assert small.output["image"]["width"] == 160
    assert small.output["image"]["height"] == round(image["height"] * 160 / image["width"])
    upload = run_local(workers.upload, {"images": [small.output["image"]], "bucket": "b"})
    assert upload.output["urls"][0].startswith("https://cdn.example.com/b/")
    assert spec_of(workers.resize_image).concurrency > 1  # type: ignore[union-attr]


class FakeApi:
    """A Conductor-shaped metadata + workflow API in memory (an httpx transport)."""

    def __init__(self) -> None:
        self.workflows: dict[str, Any] = {}
        self.task_defs: dict[str, Any] = {}
        self.calls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url.path}")
        body = json.loads(request.content) if request.content else None
        route = (request.method, request.url.path)
        if route == ("POST", "/api/metadata/taskdefs"):
            self.task_defs.update({d["name"]: d for d in body})
            return httpx.Response(200)
        if route == ("POST", "/api/metadata/workflow"):
            if body["name"] in self.workflows:
                return httpx.Response(409, json={"status": 409, "message": "exists"})
            self.workflows[body["name"]] = body
            return httpx.Response(200)
        if route == ("PUT", "/api/metadata/workflow"):
            self.workflows.update({d["name"]: d for d in body})
            return httpx.Response(200)
        if route == ("POST", "/api/workflow"):
            if body["name"] not in self.workflows:
                return httpx.Response(404, json={"status": 404, "message": "no such workflow"})
            return httpx.Response(200, text="wf-123")
        return httpx.Response(404)


def _client(api: FakeApi) -> httpx.Client:
    return httpx.Client(base_url="http://api", transport=httpx.MockTransport(api))


def test_start_demo_registers_child_before_parent_and_returns_the_id() -> None:
    api = FakeApi()
    assert start_demo("http://api", _client(api)) == "wf-123"
    assert api.calls[:3] == [
        "POST /api/metadata/taskdefs",
        "POST /api/metadata/workflow",
        "POST /api/metadata/workflow",
    ]
    assert list(api.workflows) == ["publish_images", "image_pipeline"]


def test_registering_twice_updates_instead_of_failing() -> None:
    api = FakeApi()
    register_demo("http://api", _client(api))
    register_demo("http://api", _client(api))
    assert "PUT /api/metadata/workflow" in api.calls


def test_api_error_is_reported_with_its_status() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text="database down")

    client = httpx.Client(base_url="http://api", transport=httpx.MockTransport(broken))
    with pytest.raises(DemoSetupError, match="HTTP 500 database down"):
        start_demo("http://api", client)
