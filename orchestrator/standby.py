"""Warm standbys: a service process started ahead, held before it touches Kafka.

Starting a processor costs seconds before it does anything (measured on the 2-core dev box:
3.5 s to import faust, aiohttp, the codec and the engine when idle, up to 9 s under load),
which a restart after a crash would otherwise add to the time its partitions go unserved
(issue #15). ``orchestrator serve`` (engine/supervisor.py) therefore keeps one spare per
partition-owning component (processor, gate, projector), started with ``STANDBY_ENV`` set and
a pipe on its stdin: the spare imports everything, then blocks in ``hold_if_standby`` until the
supervisor writes a line (the active one has exited: take over) or closes the pipe (stop).
It joins its consumer group only then, with the slot's instance id (static membership), so it
takes the dead process's partitions back without a rebalance.
"""

from __future__ import annotations

import os
import sys

# Not ORCHESTRATOR_*: it is no setting (``orchestrator settings`` would call it a typo).
STANDBY_ENV = "_ORCHESTRATOR_STANDBY"
ACTIVATE = b"go\n"


def hold_if_standby() -> None:
    """In a standby: wait until activated (return) or released (exit 0); else return at once."""
    if os.environ.pop(STANDBY_ENV, None) != "1":
        return
    # Logging is not set up yet (faust's worker does it later): straight to stderr.
    print(f"standby ready (pid {os.getpid()}): waiting to take over", file=sys.stderr, flush=True)
    line = sys.stdin.buffer.readline()
    if line.strip() != ACTIVATE.strip():
        sys.exit(0)  # the supervisor stopped (or went away): never start
    print(f"standby activated (pid {os.getpid()}): taking over", file=sys.stderr, flush=True)
