"""Register the demo definitions and start a demo workflow, through the REST API only.

The same calls a user makes against a Conductor server: ``POST /api/metadata/taskdefs``,
``POST /api/metadata/workflow`` (``PUT`` with a list when it already exists), ``POST
/api/workflow``.
"""

from __future__ import annotations

import json
import random
from importlib import resources
from typing import Any

import httpx

WORKFLOW = "image_pipeline"
CHILD_WORKFLOW = "publish_images"
TIMEOUT_S = 30.0  # the first start also waits for the processors to join their group


class DemoSetupError(RuntimeError):
    pass


def definition(name: str) -> Any:
    """A definition file of orchestrator/demo/definitions/ (parsed JSON)."""
    text = resources.files("orchestrator.demo").joinpath("definitions", f"{name}.json").read_text()
    return json.loads(text)


def register_demo(api_url: str, client: httpx.Client | None = None, key: str | None = None) -> None:
    """Register the task definitions, then the child workflow, then the main one (idempotent).
    ``key``: an admin API key (registering definitions needs one)."""
    with _client(api_url, client, key) as http:
        _check(http.post("/api/metadata/taskdefs", json=definition("taskdefs")), "task definitions")
        for name in (CHILD_WORKFLOW, WORKFLOW):  # the child first: the parent refers to it
            body = definition(name)
            response = http.post("/api/metadata/workflow", json=body)
            if response.status_code == 409:  # registered before: update it to this version
                response = http.put("/api/metadata/workflow", json=[body])
            _check(response, f"workflow {name}")


def start_demo(api_url: str, client: httpx.Client | None = None, key: str | None = None) -> str:
    """Register the demo definitions and start one ``image_pipeline``; returns its id."""
    register_demo(api_url, client, key)
    picture = random.choice(("cat", "harbour", "mountain", "bicycle", "lighthouse"))
    request = {
        "name": WORKFLOW,
        "version": 1,
        "correlationId": f"demo-{picture}",
        "input": {
            "imageUrl": f"https://images.example.com/{picture}.jpg",
            "watermarkText": "© Kafka Orchestrator demo",
            "bucket": "demo-renditions",
        },
    }
    with _client(api_url, client, key) as http:
        response = http.post("/api/workflow", json=request)
        _check(response, f"start of {WORKFLOW}")
    return _workflow_id(response)


def _workflow_id(response: httpx.Response) -> str:
    """Conductor answers the id as plain text; accept a JSON string too."""
    text = response.text.strip()
    if text.startswith('"'):
        text = json.loads(text)
    if not text:
        raise DemoSetupError("the API started the demo workflow but returned no id")
    return text


class _client:
    """The caller's client (left open), or a new one closed on exit."""

    def __init__(self, api_url: str, client: httpx.Client | None, key: str | None) -> None:
        self._own = client is None
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = client or httpx.Client(
            base_url=api_url.rstrip("/"), timeout=TIMEOUT_S, headers=headers
        )

    def __enter__(self) -> httpx.Client:
        return self._client

    def __exit__(self, *exc: object) -> None:
        if self._own:
            self._client.close()


def _check(response: httpx.Response, what: str) -> None:
    if response.status_code >= 400:
        raise DemoSetupError(
            f"demo setup failed ({what}): HTTP {response.status_code} {response.text[:500]}"
        )
