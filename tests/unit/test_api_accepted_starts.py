"""The API's record of starts durable on Kafka but not projected yet (orchestrator/api/accepted.py)."""

from __future__ import annotations

from orchestrator.api.accepted import AcceptedStarts
from orchestrator.domain import commands as cmd


def start(workflow_id: str) -> cmd.StartWorkflow:
    return cmd.StartWorkflow(
        workflow_id=workflow_id, at=1_000, actor="api:t", name="flow", version=2, input={"a": 1}
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_accepted_start_reads_as_a_running_row_of_its_name_version_and_input() -> None:
    starts = AcceptedStarts(clock=Clock())
    starts.add(start("w1"))
    row = starts.get("w1").row()  # type: ignore[union-attr]
    assert (row["workflow_id"], row["workflow_type"], row["version"]) == ("w1", "flow", 2)
    assert (row["status"], row["input"], row["start_time"]) == ("RUNNING", {"a": 1}, 1_000)
    assert starts.get("w2") is None


def test_a_refusal_is_kept_on_the_record() -> None:
    starts = AcceptedStarts(clock=Clock())
    starts.add(start("w1"))
    starts.refuse("w1", "unknown definition")
    assert starts.get("w1").refusal == "unknown definition"  # type: ignore[union-attr]


def test_records_expire_after_the_ttl_and_their_expiry_hook_runs_on_the_next_add() -> None:
    clock = Clock()
    expired: list[str] = []
    starts = AcceptedStarts(ttl_s=10, clock=clock)
    starts.add(start("old"), on_expiry=lambda: expired.append("old"))
    clock.now = 11
    assert starts.get("old") is None
    starts.add(start("new"))
    assert (expired, len(starts)) == (["old"], 1)


def test_the_count_is_bounded_oldest_first() -> None:
    starts = AcceptedStarts(limit=2, clock=Clock())
    for wid in ("a", "b", "c"):
        starts.add(start(wid))
    assert [starts.get(w) is not None for w in ("a", "b", "c")] == [False, True, True]
