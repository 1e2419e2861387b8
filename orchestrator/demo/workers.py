"""Workers of the demo ``image_pipeline``: they pretend to process images.

Outputs are small and random (sizes, ids, timings), but the control flow is deterministic:
``watermark`` fails on its first attempt and succeeds on the retry, so every demo run shows a
retry in its history.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

from orchestrator.worker import TaskContext, worker_task

_FORMATS = ("jpeg", "png", "webp")


def _pause(low: float = 0.05, high: float = 0.4) -> None:
    time.sleep(random.uniform(low, high))  # look like real work in the timeline


@worker_task("fetch_image", concurrency=4)
def fetch_image(task_input: dict[str, Any]) -> dict[str, Any]:
    url = task_input.get("imageUrl") or "https://images.example.com/cat.jpg"
    _pause()
    width = random.choice((2048, 3024, 4032))
    height = width * 3 // 4
    return {
        "image": {
            "id": uuid.uuid4().hex[:12],
            "source": url,
            "format": random.choice(_FORMATS),
            "width": width,
            "height": height,
            "sizeBytes": width * height * 3 // random.randint(8, 14),
        }
    }


@worker_task("resize_image", concurrency=6)
def resize_image(task_input: dict[str, Any]) -> dict[str, Any]:
    image = task_input.get("image") or {}
    width = int(task_input.get("width") or 320)
    ratio = width / max(1, int(image.get("width") or width))
    height = max(1, round(int(image.get("height") or width) * ratio))
    _pause()
    label = task_input.get("label") or f"w{width}"
    return {
        "image": {
            "id": f"{image.get('id', 'img')}-{label}",
            "label": label,
            "format": image.get("format", "jpeg"),
            "width": width,
            "height": height,
            "sizeBytes": width * height * 3 // random.randint(10, 20),
        }
    }


@worker_task("watermark", concurrency=2)
def watermark(task: TaskContext) -> dict[str, Any]:
    if task.retry_count == 0:
        # Deterministic flakiness: the first attempt of every run fails, the retry succeeds.
        raise ConnectionError("watermark service unavailable (the demo fails the first attempt)")
    text = task.input.get("text") or "© demo"
    _pause()
    images = [img for img in task.input.get("images") or [] if isinstance(img, dict)]
    task.log(f"stamped {len(images)} image(s) on attempt {task.retry_count + 1}")
    return {"images": [{**img, "watermark": text} for img in images]}


@worker_task("upload", concurrency=4)
def upload(task_input: dict[str, Any]) -> dict[str, Any]:
    bucket = task_input.get("bucket") or "demo-bucket"
    images = [img for img in task_input.get("images") or [] if isinstance(img, dict)]
    _pause(0.1, 0.5)
    return {
        "urls": [
            f"https://cdn.example.com/{bucket}/{img.get('id', uuid.uuid4().hex[:8])}."
            f"{img.get('format', 'jpeg')}"
            for img in images
        ],
        "uploadedBytes": sum(int(img.get("sizeBytes") or 0) for img in images),
    }
