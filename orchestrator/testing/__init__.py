"""Test support: the in-memory runtime, fake workers, a fake clock, a dict-backed Context."""

from orchestrator.testing.inmemory import FakeClock, InMemoryRuntime
from orchestrator.testing.workers import Reply, always, fail_times, never, slow

__all__ = ["FakeClock", "InMemoryRuntime", "Reply", "always", "fail_times", "never", "slow"]
