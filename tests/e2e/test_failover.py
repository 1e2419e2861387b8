"""Failover in seconds (issue #15): kill -9 a processor, gate or projector under load, and its
partitions serve new work again within 10 s, whether its supervisor restarts it or a survivor
takes over.

The load is a steady stream of one-task workflows (20/s) completed by a raw worker; the gap is
measured from the kill until, on every partition, a workflow started after the kill is done
(failover_support.py). Each test prints its figure (``pytest -s``); docs/operations.md lists
the measured ones.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from orchestrator.domain.definitions import TaskDef
from tests import readmodel_support as support
from tests.e2e.e2e_support import register, start_process, start_processor
from tests.e2e.failover_support import (
    BUDGET_S,
    Load,
    RowWatch,
    Supervised,
    one_task_workflow,
    wait_for,
)
from tests.e2e.test_processor_faults import wait_until_ready
from tests.runtime_support import RawWorker, Runtime, kill9

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

TASK = "fo_task"
GATED = "fo_gated"


def report(what: str, gap: float) -> None:
    print(f"\nFAILOVER {what}: {gap:.2f} s from the kill to new work done on every partition")


def wait_for_line(path: Path, text: str, timeout_s: float = 90.0) -> None:
    found = wait_for(lambda: path.exists() and text in path.read_text(errors="replace"), timeout_s)
    assert found, f"{text!r} not in {path} within {timeout_s} s"


def test_processor_restarted_by_its_supervisor_serves_again_within_10_s(
    runtime: Runtime,
) -> None:
    runtime.create_topics([TASK])
    with Supervised(runtime, ["processor"]) as sup:
        wait_until_ready(runtime, "processor", 1, 90)
        with RawWorker(runtime, [TASK]), Load(runtime, one_task_workflow("fo", TASK)) as load:
            load.wait_flowing()
            sup.wait_standby_ready("processor")
            victim = sup.child("processor").proc
            assert victim is not None
            kill_at = time.monotonic()
            kill9(victim)
            gap = load.gap(kill_at)
    report("processor, restarted by its supervisor", gap)
    assert gap < BUDGET_S, f"{gap:.1f} s; supervisor: {sup.lines}; logs in {runtime.log_dir}"
    assert any("activated the processor standby" in line for line in sup.lines), sup.lines


def test_surviving_processor_serves_the_partitions_of_a_killed_one_within_10_s(
    runtime: Runtime,
) -> None:
    runtime.create_topics([TASK])
    first = start_processor(runtime, {"ORCHESTRATOR_INSTANCE_ID": "fo-slot-0"})
    start_processor(runtime, {"ORCHESTRATOR_INSTANCE_ID": "fo-slot-1"})
    wait_until_ready(runtime, "processor", 2, 90)
    with RawWorker(runtime, [TASK]), Load(runtime, one_task_workflow("fo", TASK)) as load:
        load.wait_flowing()
        kill_at = time.monotonic()
        kill9(first)  # no restart: the survivor takes its partitions over
        gap = load.gap(kill_at)
    report("processor, taken over by the survivor", gap)
    assert gap < BUDGET_S, f"{gap:.1f} s; logs in {runtime.log_dir}"


def test_gate_restarted_by_its_supervisor_releases_again_within_10_s(runtime: Runtime) -> None:
    runtime.create_topics([GATED])
    register(runtime, [TaskDef(GATED, concurrent_exec_limit=1000)])  # through the gate
    start_processor(runtime)
    with Supervised(runtime, ["gate"]) as sup:
        wait_until_ready(runtime, "processor", 1, 90)
        wait_for_line(runtime.log_dir / "gate.log", "gate assigned")
        workflow = one_task_workflow("fo_gated_wf", GATED, inline_task_def=False)
        with RawWorker(runtime, [GATED]), Load(runtime, workflow) as load:
            load.wait_flowing()
            sup.wait_standby_ready("gate")
            victim = sup.child("gate").proc
            assert victim is not None
            kill_at = time.monotonic()
            kill9(victim)
            gap = load.gap(kill_at)
    report("gate, restarted by its supervisor", gap)
    assert gap < BUDGET_S, f"{gap:.1f} s; supervisor: {sup.lines}; logs in {runtime.log_dir}"


def test_projector_restarted_by_its_supervisor_drains_its_lag_within_10_s(
    runtime: Runtime,
) -> None:
    base = support.database_url()
    schema = support.create_schema(base)
    url = support.schema_url(base, schema)
    try:
        runtime.create_topics([TASK])
        start_processor(runtime)
        with Supervised(runtime, ["projector"], {"database_url": url}) as sup:
            wait_until_ready(runtime, "processor", 1, 90)
            wait_for_line(runtime.log_dir / "projector.log", "projector assigned")
            workflow = one_task_workflow("fo", TASK)
            load = Load(runtime, workflow)
            with RawWorker(runtime, [TASK]), load, RowWatch(load, url) as rows:
                load.wait_flowing(done=rows.visible)
                sup.wait_standby_ready("projector")
                victim = sup.child("projector").proc
                assert victim is not None
                kill_at = time.monotonic()
                kill9(victim)
                gap = load.gap(kill_at, done=rows.visible)
        report("projector, restarted by its supervisor", gap)
        assert gap < BUDGET_S, f"{gap:.1f} s; supervisor: {sup.lines}; logs in {runtime.log_dir}"
    finally:
        support.drop_schema(base, schema)


def test_a_fenced_processor_exits_and_is_not_restarted(runtime: Runtime) -> None:
    """Two live processes with one instance id: the broker fences the older one, which exits
    with EXIT_FENCED instead of polling on, unable to serve anything."""
    from orchestrator.kafka.clients import EXIT_FENCED

    runtime.create_topics([TASK])
    env = {"ORCHESTRATOR_INSTANCE_ID": "fo-same-slot"}
    first = start_processor(runtime, env)
    wait_until_ready(runtime, "processor", 1, 90)
    start_process(runtime, ["processor"], "processor-twin", env)
    assert first.wait(60) == EXIT_FENCED
    text = (runtime.log_dir / "processor-0.log").read_text(errors="replace")
    assert "another live process uses this instance id" in text
