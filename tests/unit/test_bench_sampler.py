"""The bench's sampler charges a thread's CPU to the stack it is running."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from orchestrator.bench.sampler import Sampler


def _burn_cpu(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(i * i for i in range(1000))


def _sleep(stop: threading.Event) -> None:
    stop.wait()


def test_a_busy_thread_is_charged_and_a_sleeping_one_is_not(tmp_path: Path) -> None:
    sampler = Sampler(tmp_path / "p")
    stop = threading.Event()
    busy = threading.Thread(target=_burn_cpu, args=(stop,), name="busy")
    idle = threading.Thread(target=_sleep, args=(stop,), name="idle")
    busy.start()
    idle.start()
    try:
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            sampler.sample()
            time.sleep(0.005)
    finally:
        stop.set()
        busy.join()
        idle.join()
    charged = {key[0]: 0 for key in sampler.stacks}
    for key, ns in sampler.stacks.items():
        charged[key[0]] += ns
    assert charged.get("busy", 0) > 10_000_000  # > 10 ms of CPU in half a second, even if loaded
    assert charged.get("idle", 0) < charged["busy"] / 10
    assert any("_burn_cpu" in frame for key in sampler.stacks for frame in key)
    sampler.write()
    text = (tmp_path / "p.txt").read_text()
    assert "busy" in text and "_burn_cpu" in text
    assert any(line.startswith("busy;") for line in (tmp_path / "p.collapsed").open())
