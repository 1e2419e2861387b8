"""The demo `image_pipeline` on the real stack: the demo definitions (orchestrator/demo/
definitions/*.json) registered on the definitions topic, started by name, run by the real
processor and the demo workers (`orchestrator worker orchestrator.demo.workers`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from orchestrator.demo.setup import CHILD_WORKFLOW, WORKFLOW, definition
from orchestrator.domain import events as ev
from orchestrator.domain.commands import StartWorkflow
from orchestrator.domain.definitions_json import parse_task_def, parse_workflow_def
from orchestrator.domain.statuses import TaskStatus
from tests.e2e.e2e_support import Stack, of_task, output_of, scheduled, stack_for_module, the
from tests.runtime_support import now_ms

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(180)]

RESIZES = ("resize_small_ref", "resize_medium_ref", "resize_large_ref")


def demo_definitions() -> list[Any]:
    task_defs = [parse_task_def(d) for d in definition("taskdefs")]
    return [*task_defs, *(parse_workflow_def(definition(n)) for n in (CHILD_WORKFLOW, WORKFLOW))]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str]]:
    with stack_for_module(
        tmp_path_factory.mktemp("demo"),
        workers=["orchestrator.demo.workers"],
        definitions=demo_definitions(),
    ) as stack:
        wid = str(uuid.uuid4())
        stack.sender.send(  # by name and version: the processor reads the registered definition
            StartWorkflow(
                workflow_id=wid,
                at=now_ms(),
                actor="api:e2e-demo",
                name=WORKFLOW,
                version=1,
                input={
                    "imageUrl": "https://images.example.com/cat.jpg",
                    "watermarkText": "e2e",
                    "bucket": "e2e-bucket",
                },
                correlation_id="demo-e2e",
            )
        )
        stack.sender.flush()
        stack.ids["demo"] = wid
        yield stack, wid


def test_demo_workflow_completes_with_three_urls(demo: tuple[Stack, str]) -> None:
    stack, _ = demo
    history = stack.finished("demo", 90)
    output = the(history, ev.WorkflowCompleted).output
    assert output["original"]["source"] == "https://images.example.com/cat.jpg"
    assert len(output["urls"]) == 3
    assert all(u.startswith("https://cdn.example.com/e2e-bucket/") for u in output["urls"])
    assert output["watermarkRetryCount"] == 1


def test_flaky_watermark_failed_once_and_was_retried(demo: tuple[Stack, str]) -> None:
    stack, _ = demo
    history = stack.finished("demo", 90)
    first, second = scheduled(history, "watermark_ref")
    failed = of_task(history, first.task_id, ev.TaskFailed)
    assert [f.status for f in failed] == [TaskStatus.FAILED]
    assert "watermark service unavailable" in failed[0].reason
    assert (second.retry_count, second.retried_task_id) == (1, first.task_id)
    queued = of_task(history, second.task_id, ev.TaskQueued)[0]
    assert queued.at - failed[0].at >= 1000  # the demo's retryDelaySeconds (FIXED, 1 s)
    stamped = output_of(history, "watermark_ref")["images"]
    assert [img["watermark"] for img in stamped] == ["e2e"] * 3


def test_fork_ran_three_resizes_and_joined_them(demo: tuple[Stack, str]) -> None:
    stack, _ = demo
    history = stack.finished("demo", 90)
    resizes = [e for e in history if isinstance(e, ev.TaskScheduled) and e.name == "resize_image"]
    assert sorted(e.ref for e in resizes) == sorted(RESIZES)
    for task in resizes:
        assert len(of_task(history, task.task_id, ev.TaskCompleted)) == 1
    joined = output_of(history, "resize_join_ref")
    widths = {ref: joined[ref]["image"]["width"] for ref in RESIZES}
    assert widths == {"resize_small_ref": 160, "resize_medium_ref": 640, "resize_large_ref": 1280}


def test_sub_workflow_published_the_images(demo: tuple[Stack, str]) -> None:
    stack, wid = demo
    history = stack.finished("demo", 90)
    publish = scheduled(history, "publish_ref")[0]
    child = stack.finished(publish.child_workflow_id, 60)
    started = the(child, ev.WorkflowStarted)
    assert started.definition.name == CHILD_WORKFLOW and started.parent_workflow_id == wid
    urls = the(child, ev.WorkflowCompleted).output["urls"]
    assert len(urls) == 3
    assert output_of(history, "publish_ref") == {
        "subWorkflowId": publish.child_workflow_id,
        "urls": urls,
    }
