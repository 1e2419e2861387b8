"""jq with a hard time limit and a memory bound: one persistent child process (jq_worker.py)
speaking JSON lines over pipes.

A jq program runs in C and cannot be interrupted from Python, so a runaway one (`[range(1e12)]`,
`def f: f; f`) would block the processor forever. Here it runs in a child: the parent waits for
the answer at most `timeout_ms`, then kills the child and raises ScriptError("jq timed out after
N ms"); the next call starts a new child. The child's address space is capped (`memory_limit_
bytes` above its start size), so a program that allocates too much kills only the child.
Measured cost of the round trip: see docs/adr/0002 (tens of µs); starting a child ~0.1 s, paid
once and after a kill.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from orchestrator.domain.ports import ScriptError

JSON = Any
_WORKER = Path(__file__).with_name("jq_worker.py")
_MB = 1024 * 1024
START_TIMEOUT_S = 30.0


# libjq says `Cannot index string with string ("b")`; Conductor's jackson-jq says
# `Cannot index string with string "b"`, and users' workflows (and Conductor's own specs) read
# the task's reasonForIncompletion.
_INDEX_BY_STRING = re.compile(r'^(Cannot index \w+ with string) \(("(?:[^"\\]|\\.)*")\)$')


def conductor_wording(message: str) -> str:
    """A libjq error message as Conductor (jackson-jq) words it, where the two are known to
    differ; any other message unchanged."""
    return _INDEX_BY_STRING.sub(r"\1 \2", message)


class JqRunner:
    """Thread-safe (calls are serialised); `close` stops the child."""

    def __init__(self, timeout_ms: int = 1000, memory_limit_bytes: int = 64 * _MB) -> None:
        self._timeout_ms = timeout_ms
        self._memory_limit = memory_limit_bytes
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None
        self._pending = b""

    def run(self, query: str, value: JSON) -> list[JSON]:
        try:
            request = json.dumps({"q": query, "v": json.dumps(value, allow_nan=False)})
        except (TypeError, ValueError) as e:
            raise ScriptError(f"jq input is not JSON: {e}") from None
        with self._lock:
            answer = self._ask(request.encode() + b"\n")
        if "err" in answer:
            if answer["err"] == "memory":
                raise ScriptError(self._memory_message())
            raise ScriptError(conductor_wording(str(answer["err"])))
        return list(answer["ok"])

    def close(self) -> None:
        with self._lock:
            self._kill()

    # --- the child ------------------------------------------------------------------------

    def _ask(self, request: bytes) -> dict[str, Any]:
        child = self._started()
        assert child.stdin is not None and child.stdout is not None
        try:
            child.stdin.write(request)
            child.stdin.flush()
        except BrokenPipeError:
            self._kill()
            raise ScriptError(self._memory_message()) from None
        line = self._read_line(child.stdout.fileno(), time.monotonic() + self._timeout_ms / 1000)
        return json.loads(line)

    def _read_line(self, fd: int, deadline: float, what: str = "query") -> bytes:
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            ready = select.select([fd], [], [], max(0.0, left))[0] if left > 0 else []
            if not ready:
                self._kill()
                if what == "start":
                    raise ScriptError(f"the jq process did not start within {START_TIMEOUT_S} s")
                raise ScriptError(f"jq timed out after {self._timeout_ms} ms")
            chunk = os.read(fd, 1 << 16)
            if not chunk:  # the child died: out of memory (jq aborts) or killed
                self._kill()
                raise ScriptError(self._memory_message())
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line

    def _started(self) -> subprocess.Popen[bytes]:
        if self._child is None or self._child.poll() is not None:
            self._kill()
            self._child = subprocess.Popen(
                [sys.executable, "-I", str(_WORKER), str(self._memory_limit)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env={},  # `$ENV` and `env` in a query see nothing of the processor's
                close_fds=True,
            )
            # Its start (an interpreter and the jq module: ~0.1 s, seconds on a loaded machine)
            # is not the query's time: wait for its ready line on a deadline of its own.
            assert self._child.stdout is not None
            fd = self._child.stdout.fileno()
            ready = self._read_line(fd, time.monotonic() + START_TIMEOUT_S, what="start")
            if json.loads(ready) != {"ready": True}:
                self._kill()
                raise ScriptError("the jq process did not start")
        return self._child

    def _kill(self) -> None:
        child, self._child, self._pending = self._child, None, b""
        if child is None:
            return
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
        child.wait()
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                stream.close()

    def _memory_message(self) -> str:
        return f"jq exceeded the memory limit of {self._memory_limit // _MB} MB"
