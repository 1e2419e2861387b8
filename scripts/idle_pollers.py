"""The CPU a server spends on HTTP pollers when there is nothing to hand out (issue #18).

Starts --pollers threads spread over --types task types, each looping Conductor's batch poll
(GET /api/tasks/poll/batch/{type}?count=10&timeout=T) against --url, waits --warmup s, then
reads utime+stime (/proc/<pid>/stat) of every process whose command line contains --match
(default: this repository's .venv), or of --pid (`orchestrator serve`) and its children, over --seconds,
and prints the busy share of one core, in total and per process. Standard library only;
the server must run with ORCHESTRATOR_AUTH=off (or pass --token).

    python scripts/idle_pollers.py --url http://127.0.0.1:8080 --pollers 20 --timeout-ms 100
"""

from __future__ import annotations

import argparse
import http.client
import os
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ticks(match: str, root: int | None) -> dict[int, tuple[str, int]]:
    found: dict[int, tuple[str, int]] = {}
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if match not in cmd or "idle_pollers" in cmd:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        found[int(entry.name)] = (cmd.split(" -m ")[-1][:40], int(fields[11]) + int(fields[12]))
    if root is not None:
        found = {pid: v for pid, v in found.items() if root in (pid, parents.get(pid))}
    return found


def poller(url: str, task_type: str, timeout_ms: int, token: str | None, stop: threading.Event):
    parts = urlsplit(url)
    headers = {"X-Authorization": token} if token else {}
    path = f"/api/tasks/poll/batch/{task_type}?count=10&timeout={timeout_ms}&workerid=idle"
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout_ms / 1000 + 30)
    while not stop.is_set():
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                time.sleep(0.5)
        except OSError:
            conn.close()
            time.sleep(0.5)


def main() -> None:
    here = str(Path(__file__).resolve().parent.parent / ".venv")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--pollers", type=int, default=20)
    parser.add_argument("--types", type=int, default=5)
    parser.add_argument("--timeout-ms", type=int, default=100)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--match", default=here)
    parser.add_argument("--pid", type=int, default=None, help="the serve process")
    parser.add_argument("--token", default=None)
    args = parser.parse_args()
    prefix = f"idle_{uuid.uuid4().hex[:6]}"
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=poller,
            args=(args.url, f"{prefix}_{i % args.types}", args.timeout_ms, args.token, stop),
            daemon=True,
        )
        for i in range(args.pollers)
    ]
    for thread in threads:
        thread.start()
    time.sleep(args.warmup)
    before, t0 = cpu_ticks(args.match, args.pid), time.monotonic()
    time.sleep(args.seconds)
    after, t1 = cpu_ticks(args.match, args.pid), time.monotonic()
    stop.set()
    per: dict[str, float] = {}
    for pid, (name, ticks) in after.items():
        if pid in before:
            per[name] = per.get(name, 0.0) + (ticks - before[pid][1]) / TICKS / (t1 - t0)
    total = sum(per.values())
    detail = ", ".join(
        f"{name} {share:.1%}" for name, share in sorted(per.items(), key=lambda x: -x[1])
    )
    print(
        f"idle pollers: {args.pollers} on {args.types} types, timeout {args.timeout_ms} ms: "
        f"server {total:.1%} of a core over {t1 - t0:.0f} s ({detail})"
    )


if __name__ == "__main__":
    main()
