"""The benchmark's HTTP-polling workers (``orchestrator bench --http``): Conductor's protocol.

What a team moving from Conductor runs: per task type, poller threads looping
``GET /api/tasks/poll/batch/{type}?count=N&timeout=T`` and answering each task with
``POST /api/tasks`` (COMPLETED, random JSON output of ORCHESTRATOR_BENCH_PAYLOAD_BYTES), over
persistent keep-alive connections (http.client), as the Conductor SDKs and httpbench do.

Run by the bench as ``python -m orchestrator.bench.http_workers``; prints ``polling:`` once
every poller has answered its first poll. Configured by the environment the bench sets:
ORCHESTRATOR_API_URL, ORCHESTRATOR_BENCH_API_KEY (unset: no credentials),
ORCHESTRATOR_BENCH_HTTP_POLLERS (threads per task type), ORCHESTRATOR_BENCH_HTTP_BATCH,
ORCHESTRATOR_BENCH_HTTP_TIMEOUT_MS.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import sys
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from orchestrator.bench.workload import TASK_TYPES, random_output

RETRY_PAUSE_S = 0.2


class HttpWorker:
    """One poller thread: poll a batch, answer each task, again."""

    def __init__(self, url: str, task_type: str, key: str | None, batch: int, timeout_ms: int):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.task_type = task_type
        self.headers = {"Content-Type": "application/json"}
        if key:
            self.headers["Authorization"] = f"Bearer {key}"
        self.worker_id = f"bench-http-{os.getpid()}"
        self.poll_path = (
            f"/api/tasks/poll/batch/{task_type}?count={batch}&timeout={timeout_ms}"
            f"&workerid={self.worker_id}"
        )
        self.payload_bytes = int(os.environ.get("ORCHESTRATOR_BENCH_PAYLOAD_BYTES", "1024"))
        self.timeout_s = timeout_ms / 1000 + 30
        self.conn: http.client.HTTPConnection | None = None
        self.polled = threading.Event()
        self.refused: set[int] = set()
        self.done = 0

    def _call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        try:
            self.conn.request(method, path, body=body, headers=self.headers)
            response = self.conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                status, body = self._call("GET", self.poll_path)
                if status != 200:
                    if status not in self.refused:  # once per status: visible, not a flood
                        self.refused.add(status)
                        print(f"http worker {self.task_type}: poll {status}: {body[:200]!r}",
                              file=sys.stderr, flush=True)  # fmt: skip
                    time.sleep(RETRY_PAUSE_S)
                    continue
                self.polled.set()
                for task in json.loads(body or b"[]"):
                    self._complete(task)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                print(f"http worker {self.task_type}: {exc!r}", file=sys.stderr, flush=True)
                time.sleep(RETRY_PAUSE_S)

    def _complete(self, task: dict[str, Any]) -> None:
        result = {
            "workflowInstanceId": task["workflowInstanceId"],
            "taskId": task["taskId"],
            "status": "COMPLETED",
            "workerId": self.worker_id,
            "outputData": random_output(self.payload_bytes),
        }
        status, body = self._call("POST", "/api/tasks", json.dumps(result).encode())
        if status != 200:
            print(f"http worker: update {status}: {body[:200]!r}", file=sys.stderr, flush=True)
        self.done += 1


def main() -> None:
    url = os.environ.get("ORCHESTRATOR_API_URL", "http://127.0.0.1:8080")
    key = os.environ.get("ORCHESTRATOR_BENCH_API_KEY") or None
    pollers = int(os.environ.get("ORCHESTRATOR_BENCH_HTTP_POLLERS", "2"))
    batch = int(os.environ.get("ORCHESTRATOR_BENCH_HTTP_BATCH", "10"))
    timeout_ms = int(os.environ.get("ORCHESTRATOR_BENCH_HTTP_TIMEOUT_MS", "100"))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    workers = [
        HttpWorker(url, task_type, key, batch, timeout_ms)
        for task_type in TASK_TYPES
        for _ in range(pollers)
    ]
    threads = [threading.Thread(target=w.run, args=(stop,), daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    while not stop.is_set() and not all(w.polled.is_set() for w in workers):
        stop.wait(0.1)
    print(f"polling: {len(workers)} HTTP pollers on {len(TASK_TYPES)} task types", flush=True)
    while not stop.is_set():
        stop.wait(1.0)
    print(f"stopped: {sum(w.done for w in workers)} tasks completed", flush=True)


if __name__ == "__main__":
    main()
