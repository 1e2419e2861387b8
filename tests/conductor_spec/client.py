"""A Conductor REST client: what a Conductor SDK user or an HTTP-polling worker sends.

Only Conductor's public REST surface (`/api/...`), so the same calls go to the real Conductor
and to this project's API. Errors are returned as data (`Answer`), never raised: a case records
what a client would see (the status code), and a 4xx on one server and a 2xx on the other is a
difference like any other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: the status code and the body (parsed JSON, text, or None)."""

    code: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300


# API keys of the servers that need one (ours; the reference Conductor OSS has no
# authentication), by base URL: `our_server` puts its admin key here.
KEYS: dict[str, str] = {}


class ConductorClient:
    """Conductor's REST API at `base_url` (e.g. http://127.0.0.1:8127, without /api)."""

    def __init__(self, base_url: str, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        key = KEYS.get(self.base_url)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.Client(
            base_url=f"{self.base_url}/api", timeout=timeout_s, headers=headers
        )

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, **kwargs: Any) -> Answer:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            return Answer(0, f"{type(exc).__name__}: {exc}")
        return Answer(response.status_code, _body(response))

    # --- metadata -------------------------------------------------------------------------

    def register_task_defs(self, defs: list[dict[str, Any]]) -> Answer:
        return self.call("POST", "/metadata/taskdefs", json=defs)

    def update_task_def(self, task_def: dict[str, Any]) -> Answer:
        return self.call("PUT", "/metadata/taskdefs", json=task_def)

    def put_workflow_defs(self, defs: list[dict[str, Any]]) -> Answer:
        return self.call("PUT", "/metadata/workflow", json=defs)

    def get_workflow_def(self, name: str, version: int | None = None) -> Answer:
        params = {} if version is None else {"version": version}
        return self.call("GET", f"/metadata/workflow/{name}", params=params)

    def register_event_handler(self, handler: dict[str, Any]) -> Answer:
        return self.call("POST", "/event", json=handler)

    # --- workflows ------------------------------------------------------------------------

    def start(self, request: dict[str, Any]) -> Answer:
        return self.call("POST", "/workflow", json=request, timeout=90.0)  # runs the first tasks

    def workflow(self, workflow_id: str, include_tasks: bool = True) -> Answer:
        params = {"includeTasks": str(include_tasks).lower()}
        return self.call("GET", f"/workflow/{workflow_id}", params=params)

    def terminate(self, workflow_id: str, reason: str | None = None) -> Answer:
        params = {"reason": reason} if reason else {}
        return self.call("DELETE", f"/workflow/{workflow_id}", params=params)

    def pause(self, workflow_id: str) -> Answer:
        return self.call("PUT", f"/workflow/{workflow_id}/pause")

    def resume(self, workflow_id: str) -> Answer:
        return self.call("PUT", f"/workflow/{workflow_id}/resume")

    def restart(self, workflow_id: str, use_latest: bool = False) -> Answer:
        params = {"useLatestDefinitions": str(use_latest).lower()}
        return self.call("POST", f"/workflow/{workflow_id}/restart", params=params)

    def retry(self, workflow_id: str, resume_subworkflow_tasks: bool = False) -> Answer:
        params = {"resumeSubworkflowTasks": str(resume_subworkflow_tasks).lower()}
        return self.call("POST", f"/workflow/{workflow_id}/retry", params=params)

    def rerun(self, workflow_id: str, request: dict[str, Any]) -> Answer:
        return self.call("POST", f"/workflow/{workflow_id}/rerun", json=request)

    def skip_task(
        self, workflow_id: str, ref: str, request: dict[str, Any] | None = None
    ) -> Answer:
        return self.call("PUT", f"/workflow/{workflow_id}/skiptask/{ref}", json=request or {})

    def decide(self, workflow_id: str) -> Answer:
        return self.call("PUT", f"/workflow/decide/{workflow_id}")

    def reset_callbacks(self, workflow_id: str) -> Answer:
        return self.call("POST", f"/workflow/{workflow_id}/resetcallbacks")

    # --- tasks ----------------------------------------------------------------------------

    def poll(self, task_type: str, worker_id: str, domain: str | None = None) -> Answer:
        params = {"workerid": worker_id, **({"domain": domain} if domain else {})}
        return self.call("GET", f"/tasks/poll/{task_type}", params=params)

    def update_task(self, result: dict[str, Any]) -> Answer:
        return self.call("POST", "/tasks", json=result)

    def update_task_by_ref(
        self, workflow_id: str, ref: str, status: str, output: dict[str, Any]
    ) -> Answer:
        return self.call("POST", f"/tasks/{workflow_id}/{ref}/{status}", json=output)

    def task(self, task_id: str) -> Answer:
        return self.call("GET", f"/tasks/{task_id}")


def _body(response: httpx.Response) -> Any:
    if not response.content:
        return None
    if "json" in response.headers.get("content-type", ""):
        try:
            return response.json()
        except json.JSONDecodeError:
            pass
    return response.text
