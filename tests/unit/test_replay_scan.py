"""One pass over encoded event records (the real wire codec, no Kafka): re-emissions dropped,
conflicts, gaps and bad records reported, the rest folded."""

from __future__ import annotations

from orchestrator.codec.wire import default_wire, encode_event
from orchestrator.domain import events as ev
from orchestrator.replay.history import entry_from_event
from orchestrator.replay.logread import Record
from orchestrator.replay.scan import LogScan
from orchestrator.replay.timeline import lines
from tests.readmodel_fixtures import happy_history


def records(events: list[ev.Event], partition: int = 0, first: int = 0) -> list[Record]:
    return [
        Record(partition, first + i, e.root_workflow_id.encode(), encode_event(e, f"cmd-{e.seq}"))
        for i, e in enumerate(events)
    ]


def scan_of(recs: list[Record], **kw: object) -> LogScan:
    scan = LogScan(default_wire(), **kw)  # type: ignore[arg-type]
    for record in recs:
        scan.add(record)
    return scan


def test_folds_each_workflow_of_the_log():
    scan = scan_of(records(happy_history("a")) + records(happy_history("b"), first=10))
    assert scan.events == 20 and scan.duplicates == 0
    assert {f.workflow_id for f in scan.comparable()} == {"a", "b"}
    state = scan.folds["a"].state
    assert state is not None and state.status.value == "COMPLETED" and state.seq == 10


def test_identical_reemitted_records_are_dropped():
    history = happy_history("a")
    recs = records(history)
    again = [Record(0, 20 + i, r.key, r.value) for i, r in enumerate(recs[4:7])]
    scan = scan_of(recs[:7] + again + recs[7:])
    assert (scan.events, scan.duplicates) == (10, 3)
    assert scan.checker.conflicts == [] and scan.problems == []


def test_a_different_event_under_a_seen_seq_is_a_conflict():
    history = happy_history("a")
    forged = ev.TaskCompleted(
        workflow_id="a",
        root_workflow_id="a",
        seq=4,
        at=history[3].at,
        actor="worker:evil",
        task_id=history[3].task_id,  # type: ignore[union-attr]
        output={"reserved": False},
    )
    scan = scan_of(records(history) + records([forged], first=50))
    [conflict] = scan.checker.conflicts
    assert (conflict.workflow_id, conflict.seq, conflict.second.offset) == ("a", 4, 50)
    assert scan.events == 10  # the first copy is the one folded (as the projector keeps it)


def test_a_gap_stops_the_fold_of_that_workflow_only():
    a, b = happy_history("a"), happy_history("b")
    scan = scan_of(records(a[:3] + a[4:]) + records(b, first=20))
    [gap] = scan.checker.gaps
    assert (gap.workflow_id, gap.expected, gap.got) == ("a", 4, 5)
    assert [f.workflow_id for f in scan.comparable()] == ["b"]


def test_undecodable_and_null_records_are_reported_with_their_position():
    good = records(happy_history("a"))
    scan = scan_of([*good[:2], Record(1, 7, b"a", b"garbage"), Record(1, 8, b"a", None), *good[2:]])
    assert [(p.kind, p.where.partition, p.where.offset) for p in scan.problems] == [
        ("UNDECODABLE", 1, 7),
        ("UNDECODABLE", 1, 8),
    ]
    assert scan.events == 10


def test_an_event_evolve_refuses_is_invalid_and_the_workflow_is_not_compared():
    orphan = ev.TaskCompleted(
        workflow_id="a", root_workflow_id="a", seq=3, at=1, actor="worker:x", task_id="nope"
    )
    scan = scan_of(records([*happy_history("a")[:2], orphan]))
    [problem] = scan.problems
    assert problem.kind == "INVALID" and problem.workflow_id == "a"
    assert "unknown task nope" in problem.message
    assert scan.comparable() == []


def test_only_the_chosen_workflow_is_folded_and_other_keys_are_not_decoded():
    recs = records(happy_history("a")) + records(happy_history("b"), first=10)
    recs.append(Record(0, 99, b"b", b"not even avro"))  # another key: skipped, never decoded
    scan = scan_of(recs, workflow_id="a", root_key=b"a")
    assert set(scan.folds) == {"a"} and scan.skipped == 11 and scan.problems == []


def test_timeline_names_tasks_by_reference_and_shows_reasons_and_causes():
    history = happy_history("a")
    text = lines(entry_from_event(e, f"cmd-{e.seq}") for e in history)
    assert len(text) == 10
    assert "#1" in text[0] and "api:alice" in text[0] and "order_flow v2" in text[0]
    assert "2023-11-14 22:13:" in text[0]  # UTC time of T0 + 1 s
    assert "TaskFailed" in text[5] and "charge_ref FAILED: card declined" in text[5]
    assert "charge_ref [charge] SCHEDULED (retry 1)" in text[6]
    assert "cmd=cmd-10" in text[9] and "WorkflowCompleted" in text[9]
