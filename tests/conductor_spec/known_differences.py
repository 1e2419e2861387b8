"""Cases on which this project does not match the real Conductor yet, with the reason.

tests/e2e/test_conductor_specs.py marks each as a strict xfail: fixing one makes that test
XPASS, which fails the run until its line here is removed. Keep docs/conductor-compatibility.md
and the known gaps of docs/adr/0002-engine-state-machine.md in step with this list.
"""

from __future__ import annotations

KNOWN_DIFFERENCES: dict[str, str] = {}
