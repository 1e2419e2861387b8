"""The processes of a run: start/stop the subprocesses, and CPU seconds per component.

Every subprocess runs in its own session so that stopping it stops its children too. CPU time is
read from /proc/<pid>/stat (utime + stime, plus the reaped children's cutime + cstime) of each
process tree, before and after the measured window.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Child:
    component: str  # processor, worker, projector, api
    proc: subprocess.Popen[bytes]
    log: Path


@dataclass
class Fleet:
    """The subprocesses of one run, all sharing one environment (topic prefix, state dir)."""

    env: dict[str, str]
    log_dir: Path
    children: list[Child] = field(default_factory=list)

    def start(
        self,
        component: str,
        args: list[str],
        env: dict[str, str] | None = None,
        module: str = "orchestrator",
    ) -> Child:
        name = f"{component}-{len(self.children)}"
        log = self.log_dir / f"{name}.log"
        command = [sys.executable, "-m", module, *args]
        profile = self.env.get("ORCHESTRATOR_PROFILE")
        # sampled: $ORCHESTRATOR_PROFILE/<component>-<n>.txt (bench/sampler.py)
        if profile and module == "orchestrator":
            out_path = str(Path(profile) / name)
            command = [sys.executable, "-m", "orchestrator.bench.sampler", "--out", out_path,
                       "--", *args]  # fmt: skip
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                command,
                env={**self.env, **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        child = Child(component, proc, log)
        self.children.append(child)
        return child

    def wait_for(self, child: Child, marker: bytes, timeout_s: float) -> None:
        """Block until ``marker`` appears in the child's log; raise if it dies or times out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if marker in child.log.read_bytes():
                return
            if child.proc.poll() is not None:
                raise RuntimeError(f"{child.component} exited early; see {child.log}")
            time.sleep(0.2)
        raise RuntimeError(f"{child.component} not ready within {timeout_s:.0f} s; see {child.log}")

    def check_alive(self) -> list[str]:
        return [f"{c.component} (see {c.log})" for c in self.children if c.proc.poll() is not None]

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM every process group, then SIGKILL what is left after the grace period."""
        for child in self.children:
            _signal_group(child.proc, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for child in self.children:
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(child.proc, signal.SIGKILL)
                child.proc.wait(5)

    def pids_by_component(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for child in self.children:
            if child.proc.poll() is None:
                out.setdefault(child.component, []).append(child.proc.pid)
        return out


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)


# -- CPU accounting ------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds incl. reaped children) of ``pid``, None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return ppid, (utime + stime + cutime + cstime) / _TICKS


def _children_map() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                tree.setdefault(stat[0], []).append(int(entry))
    return tree


def tree_cpu_seconds(roots: list[int], tree: dict[int, list[int]]) -> float:
    """CPU seconds of ``roots`` and all their live descendants."""
    total, todo, seen = 0.0, list(roots), set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        stat = _stat(pid)
        if stat is not None:
            total += stat[1]
            todo.extend(tree.get(pid, []))
    return total


def cpu_snapshot(components: dict[str, list[int]]) -> dict[str, float]:
    tree = _children_map()
    snap = {name: tree_cpu_seconds(pids, tree) for name, pids in components.items()}
    own = os.times()
    snap["bench (load + observer)"] = own.user + own.system
    return snap


def stack_pids(stack_dir: Path) -> dict[str, list[int]]:
    """The broker's and Postgres' pids from the dev stack's pid files (what exists)."""
    out: dict[str, list[int]] = {}
    for component, name in (("kafka broker", "kafka.pid"), ("postgres", "postgres.pid")):
        try:
            pid = int((stack_dir / name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if Path(f"/proc/{pid}").exists():
            out[component] = [pid]
    return out
