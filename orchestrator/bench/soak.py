"""`orchestrator bench --soak`: memory over a long run, then how fast a fresh processor recovers.

Every SAMPLE_EVERY_S seconds of the load, the resident memory (RSS) of every process tree of the
run (processors, workers, projector, API, broker, Postgres) and the executions each processor
holds (its stats line: active and finished in memory, evicted so far) are recorded. After the
load: every processor is killed with SIGKILL and one fresh processor started; the recovery is
timed from its spawn to its "recovered partitions" line (its own figures: records and MB read,
executions loaded), and to the first workflow started after it completing.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.bench.procs import Child, Fleet
from orchestrator.bench.setup import processor_env

SAMPLE_EVERY_S = 10.0
_STATS = re.compile(rb"(\d+) active and (\d+) finished executions in memory, (\d+) evicted")
_RECOVERED = re.compile(
    rb"recovered partitions \[[^\]]*\] in ([\d.]+) s: (\d+) records \(([\d.]+) MB\) read, "
    rb"(\d+) running and (\d+) finished executions"
)


def rss_mb(pids: list[int]) -> float:
    """Resident memory of `pids` and their descendants, in MB."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    total_kb, todo, seen = 0, list(pids), set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
                    break
        except OSError:
            continue
        todo.extend(children.get(pid, []))
    return round(total_kb / 1024, 1)


def executions(log: Path) -> dict[str, int] | None:
    """The last stats line of a processor's log: executions in memory and evicted."""
    try:
        found = _STATS.findall(log.read_bytes()[-20_000:])
    except OSError:
        return None
    if not found:
        return None
    active, finished, evicted = (int(x) for x in found[-1])
    return {"active": active, "finished": finished, "evicted": evicted}


@dataclass
class SoakSampler:
    fleet: Fleet
    stack: dict[str, list[int]]
    t0: float = field(default_factory=time.monotonic)
    samples: list[dict[str, Any]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        threading.Thread(target=self._run, name="soak-sampler", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S if self.samples else 1.0):
            self.samples.append(self.sample())

    def sample(self) -> dict[str, Any]:
        rss: dict[str, float] = {}
        for component, pids in (self.fleet.pids_by_component() | self.stack).items():
            rss[component] = rss_mb(pids)
        held = [executions(c.log) for c in self.fleet.children if c.component == "processor"]
        counted = [h for h in held if h is not None]
        return {
            "t_s": round(time.monotonic() - self.t0, 1),
            "rss_mb": rss,
            "executions": {
                k: sum(h[k] for h in counted) for k in ("active", "finished", "evicted")
            },
        }


def summary(samples: list[dict[str, Any]], last_s: float) -> dict[str, Any]:
    """Per component: RSS at the start of the last `last_s` seconds and at the end, and the
    spread over that window (max/min against its mean), the flatness the issue asks of."""
    if not samples:
        return {}
    end = samples[-1]["t_s"]
    window = [s for s in samples if s["t_s"] >= end - last_s] or samples
    out: dict[str, Any] = {"window_s": round(window[-1]["t_s"] - window[0]["t_s"], 1)}
    for component in window[-1]["rss_mb"]:
        values = [s["rss_mb"][component] for s in window if component in s["rss_mb"]]
        mean = sum(values) / len(values)
        out[component] = {
            "first_mb": values[0],
            "last_mb": values[-1],
            "min_mb": min(values),
            "max_mb": max(values),
            "spread_pct": round(100 * (max(values) - min(values)) / mean, 1) if mean else 0.0,
            "peak_over_run_mb": max(s["rss_mb"].get(component, 0.0) for s in samples),
        }
    return out


def recover(fleet: Fleet, timeout_s: float = 180.0) -> tuple[Child, dict[str, Any]]:
    """Kill every processor (SIGKILL) and time a fresh one's recovery."""
    for child in fleet.children:
        if child.component == "processor" and child.proc.poll() is None:
            os.killpg(child.proc.pid, 9)
            child.proc.wait(10)
    fleet.children = [c for c in fleet.children if c.component != "processor"]
    spawned = time.monotonic()
    # In the first one's slot (its instance id): it takes every partition over at once, as
    # `orchestrator serve`'s supervisor restarts a processor.
    fresh = fleet.start("processor", ["processor"], processor_env(0))
    deadline = spawned + timeout_s
    while time.monotonic() < deadline:
        found = _RECOVERED.findall(fresh.log.read_bytes())
        if found:
            seconds, records, mb, running, finished = found[-1]
            return fresh, {
                "spawn_to_recovered_s": round(time.monotonic() - spawned, 2),
                "changelog_read_s": float(seconds),
                "records_read": int(records),
                "mb_read": float(mb),
                "running_loaded": int(running),
                "finished_loaded": int(finished),
            }
        if fresh.proc.poll() is not None:
            raise RuntimeError(f"the fresh processor exited; see {fresh.log}")
        time.sleep(0.1)
    raise RuntimeError(f"the fresh processor did not recover within {timeout_s:.0f} s")
