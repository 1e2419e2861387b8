"""`orchestrator serve`'s supervisor with small real child processes (no Kafka): standbys,
instance ids, restarts and the fenced exit."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.engine import supervisor as sup
from orchestrator.engine.supervisor import Child, Supervisor, instance_id
from orchestrator.kafka.clients import EXIT_FENCED
from orchestrator.settings import Settings

# A child that behaves like a service: held while a standby, then records its instance id
# and sleeps (or exits with the status in $EXIT_WITH).
SERVICE = (
    "import os, sys, time\n"
    "from orchestrator.standby import hold_if_standby\n"
    "hold_if_standby()\n"
    "open(sys.argv[1], 'a').write(f\"{os.getpid()} {os.environ.get('ORCHESTRATOR_INSTANCE_ID')}\\n\")\n"
    "code = os.environ.get('EXIT_WITH')\n"
    "sys.exit(int(code)) if code else time.sleep(60)\n"
)


def child(tmp_path: Path, name: str = "processor") -> Child:
    argv = [sys.executable, "-c", SERVICE, str(tmp_path / f"{name}.runs")]
    return Child(name, argv, owns_partitions=True)


def runs(tmp_path: Path, name: str = "processor") -> list[list[str]]:
    path = tmp_path / f"{name}.runs"
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def poll_until(s: Supervisor, check: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        s.poll()
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.fixture
def supervised(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sup, "STANDBY_AFTER_S", 0.0)
    made: list[Supervisor] = []

    def make(children: list[Child], standby: bool = True) -> Supervisor:
        s = Supervisor(Settings(), children, lambda _: None, standby=standby)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


def test_a_killed_child_is_replaced_by_its_standby_with_the_same_instance_id(
    tmp_path: Path, supervised
) -> None:  # type: ignore[no-untyped-def]
    c = child(tmp_path)
    s = supervised([c])
    s.start(c)
    poll_until(s, lambda: c.standby is not None and len(runs(tmp_path)) == 1)
    spare = c.standby
    assert spare is not None and len(runs(tmp_path)) == 1  # the spare is held, not running
    assert c.proc is not None
    os.killpg(c.proc.pid, signal.SIGKILL)
    poll_until(s, lambda: len(runs(tmp_path)) == 2)
    assert c.proc is spare
    (_, id1), (pid2, id2) = runs(tmp_path)
    assert id1 == id2 == instance_id(c) and pid2 == str(spare.pid)
    assert str(os.getpid()) in id1  # unique to this supervisor
    poll_until(s, lambda: c.standby is not None)  # and a new spare is started


def test_stopping_releases_the_standby_which_never_runs(tmp_path: Path, supervised) -> None:  # type: ignore[no-untyped-def]
    c = child(tmp_path)
    s = supervised([c])
    s.start(c)
    poll_until(s, lambda: c.standby is not None and len(runs(tmp_path)) == 1)
    spare = c.standby
    assert spare is not None
    s.stop()
    assert spare.poll() == 0
    assert len(runs(tmp_path)) == 1


def test_a_fenced_child_is_not_restarted(tmp_path: Path, supervised) -> None:  # type: ignore[no-untyped-def]
    c = child(tmp_path)
    s = supervised([c], standby=False)
    s.env = {**s.env, "EXIT_WITH": str(EXIT_FENCED)}
    s.start(c)
    poll_until(s, lambda: c.fenced)
    for _ in range(10):
        s.poll()
        time.sleep(0.05)
    assert c.proc is None and len(runs(tmp_path)) == 1


def test_a_crash_loop_backs_off_but_a_crash_after_a_long_run_restarts_at_once(
    tmp_path: Path, supervised
) -> None:  # type: ignore[no-untyped-def]
    c = child(tmp_path)
    s = supervised([c], standby=False)
    s.env = {**s.env, "EXIT_WITH": "70"}
    s.start(c)
    poll_until(s, lambda: c.restarts == 2)
    assert c.proc is None and c.next_start > time.monotonic()  # second crash: 1 s back-off
    c.restarts, c.history = 5, [time.monotonic() - sup.STABLE_S - 1]
    s._exited(c, 70, time.monotonic())
    assert c.restarts == 1 and c.proc is not None  # ran long enough: at once


def test_children_that_own_no_partitions_get_no_instance_id_nor_standby(tmp_path: Path) -> None:
    api = Child("api", ["true"])
    s = Supervisor(Settings(), [api], lambda _: None)
    assert "ORCHESTRATOR_INSTANCE_ID" not in s.env_of(api)
    s._keep_standby(api, time.monotonic())
    assert api.standby is None
