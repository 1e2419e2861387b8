"""A CPU-weighted sampling profiler for every thread of a process (py-spy is not available here).

    python -m orchestrator.bench.sampler --out /tmp/perf/processor -- processor
    ORCHESTRATOR_PROFILE=/tmp/perf orchestrator bench ...   # every process of the run, and itself

Every ``interval`` a daemon thread reads each Python thread's stack (``sys._current_frames``)
and its CPU clock (``time.pthread_getcpuclockid``), and charges the CPU the thread used since
the last sample to the stack it is in now. A thread blocked in C (``poll``, a lock) uses no CPU
and so costs nothing in the profile, unlike a wall-clock sampler. librdkafka's own threads are
not Python threads: their CPU is listed per thread name from /proc/self/task.

Written every few seconds and at exit (a process may end by ``os._exit``):
``OUT.txt`` (CPU per thread, top functions self and inclusive) and ``OUT.collapsed``
(``thread;outer;...;inner microseconds``, the input of flamegraph.pl / speedscope).
Overhead: about 2-4 % of a core at the default 5 ms interval.

Bias: the sampler needs the GIL, so it often catches a thread just as it releases the GIL for a
system call, and charges the CPU spent before to that call (an event loop's ``select``,
``_write_to_self``). For exact attribution add ``--cprofile`` (or
ORCHESTRATOR_PROFILE_MODE=cprofile): every thread then runs under cProfile (slower, ~1.5-2x,
but exact call counts and inclusive times), merged into ``OUT.pstats`` and ``OUT.cprofile.txt``
(read with ``python -m pstats OUT.pstats``).
"""

from __future__ import annotations

import atexit
import cProfile
import io
import os
import pstats
import runpy
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from types import FrameType

INTERVAL_S = 0.005
WRITE_EVERY_S = 5.0
TOP = 40
_TICKS = os.sysconf("SC_CLK_TCK")


def _frame_name(frame: FrameType) -> str:
    code = frame.f_code
    path = code.co_filename
    short = path.rsplit("site-packages/", 1)[-1] if "site-packages/" in path else path
    short = short.rsplit("/work/main/", 1)[-1]
    return f"{code.co_qualname} ({short}:{code.co_firstlineno})"


def _stack(frame: FrameType | None) -> tuple[str, ...]:
    names = []
    while frame is not None:
        names.append(_frame_name(frame))
        frame = frame.f_back
    return tuple(reversed(names))


class Sampler:
    def __init__(self, out: Path, interval_s: float = INTERVAL_S) -> None:
        self.out = out
        self.interval_s = interval_s
        self.stacks: Counter[tuple[str, ...]] = Counter()  # (thread, frames...) -> CPU ns
        self._clocks: dict[int, int] = {}  # thread ident -> clock id
        self._last: dict[int, int] = {}  # thread ident -> CPU ns at the last sample
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def start(self) -> None:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        atexit.register(self.write)

    def _run(self) -> None:
        last_write = time.monotonic()
        while True:
            time.sleep(self.interval_s)
            self.sample()
            if time.monotonic() - last_write >= WRITE_EVERY_S:
                self.write()
                last_write = time.monotonic()

    def sample(self) -> None:
        names = {t.ident: t.name for t in threading.enumerate()}
        me = threading.get_ident()
        with self._lock:
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                used = self._cpu_delta(ident)
                if used > 0:
                    self.stacks[(names.get(ident, str(ident)), *_stack(frame))] += used

    def _cpu_delta(self, ident: int) -> int:
        try:
            clock = self._clocks.get(ident)
            if clock is None:
                clock = self._clocks[ident] = time.pthread_getcpuclockid(ident)
            now = time.clock_gettime_ns(clock)
        except (OSError, OverflowError):  # the thread ended between enumerate and here
            return 0
        before = self._last.get(ident)
        self._last[ident] = now
        return 0 if before is None else now - before

    def write(self) -> None:
        with self._lock:
            stacks = dict(self.stacks)
        lines = [";".join(k).replace(" ", "_") + f" {v // 1000}" for k, v in stacks.items()]
        self.out.with_suffix(".collapsed").write_text("\n".join(lines) + "\n")
        self.out.with_suffix(".txt").write_text(summary(stacks, time.monotonic() - self._started))
        _write_cprofiles(self.out)


def summary(stacks: dict[tuple[str, ...], int], elapsed_s: float) -> str:
    total = sum(stacks.values()) or 1
    by_thread: Counter[str] = Counter()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for key, ns in stacks.items():
        by_thread[key[0]] += ns
        if len(key) > 1:
            own[key[-1]] += ns
        for name in set(key[1:]):
            inclusive[name] += ns
    out = [f"elapsed {elapsed_s:.1f} s, Python threads sampled {total / 1e9:.2f} CPU s", ""]
    out.append("CPU by OS thread (/proc; librdkafka threads are rdk:*):")
    out += [f"  {cpu:8.2f} s  {name}" for name, cpu in _os_threads()]
    out.append("\nCPU by Python thread (sampled):")
    out += [f"  {ns / 1e9:8.2f} s  {name}" for name, ns in by_thread.most_common()]
    for title, counter in (("self", own), ("inclusive", inclusive)):
        out.append(f"\nTop functions, {title} CPU (% of sampled):")
        out += [f"  {100 * ns / total:5.1f} %  {name}" for name, ns in counter.most_common(TOP)]
    return "\n".join(out) + "\n"


def _os_threads() -> list[tuple[str, float]]:
    """(thread name, CPU seconds) of every OS thread of this process, merged by name."""
    cpu: Counter[str] = Counter()
    for task in Path("/proc/self/task").iterdir():
        try:
            raw = (task / "stat").read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        cpu[name] += (int(fields[11]) + int(fields[12])) / _TICKS
    return sorted(cpu.items(), key=lambda kv: -kv[1])


# -- exact mode: cProfile in every thread ---------------------------------------------------

_PROFILES: list[cProfile.Profile] = []


def profile_all_threads() -> None:
    """Run this thread, and every thread started from now on, under its own cProfile."""
    original = threading.Thread.run

    def run(self: threading.Thread) -> None:
        profile = cProfile.Profile()
        _PROFILES.append(profile)
        profile.enable()
        try:
            original(self)
        finally:
            profile.disable()

    threading.Thread.run = run  # type: ignore[method-assign]
    main = cProfile.Profile()
    _PROFILES.append(main)
    main.enable()


def _write_cprofiles(out: Path) -> None:
    if not _PROFILES:
        return
    merged: pstats.Stats | None = None
    for profile in list(_PROFILES):
        profile.snapshot_stats()  # reads the counters without disabling the profile
        if not profile.stats:  # type: ignore[attr-defined]
            continue
        stats = pstats.Stats(profile)
        merged = stats if merged is None else merged.add(stats)
    if merged is None:
        return
    merged.dump_stats(str(out.with_suffix(".pstats")))
    text = io.StringIO()
    merged.stream = text  # type: ignore[attr-defined]
    merged.sort_stats("tottime").print_stats(TOP)
    merged.sort_stats("cumulative").print_stats(TOP)
    out.with_suffix(".cprofile.txt").write_text(text.getvalue())


def start_if_asked(name: str) -> Sampler | None:
    """Profile this process into $ORCHESTRATOR_PROFILE/NAME.* when that variable is set."""
    folder = os.environ.get("ORCHESTRATOR_PROFILE")
    if not folder:
        return None
    sampler = Sampler(Path(folder) / name)
    sampler.start()  # before the patch: the sampler's own thread is not profiled
    if os.environ.get("ORCHESTRATOR_PROFILE_MODE") == "cprofile":
        profile_all_threads()
    return sampler


def main(argv: list[str]) -> None:
    """``--out PATH [--interval S] [--cprofile] -- ORCHESTRATOR ARGS...``: run it, sampled."""
    if "--" not in argv or "--out" not in argv:
        sys.exit("usage: python -m orchestrator.bench.sampler --out PATH [--interval S] "
                 "[--cprofile] -- ARGS")  # fmt: skip
    split = argv.index("--")
    opts, args = argv[:split], argv[split + 1 :]
    out = Path(opts[opts.index("--out") + 1])
    interval = float(opts[opts.index("--interval") + 1]) if "--interval" in opts else INTERVAL_S
    Sampler(out, interval).start()  # before the patch: its own thread is not profiled
    if "--cprofile" in opts or os.environ.get("ORCHESTRATOR_PROFILE_MODE") == "cprofile":
        profile_all_threads()
    sys.argv = ["orchestrator", *args]
    runpy.run_module("orchestrator", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
