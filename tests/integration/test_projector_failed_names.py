"""failedReferenceTaskNames / failedTaskNames in the read model on real Postgres: after every
event the projected row holds what the engine's fold of the log gives (replay/rows.py), for
end events that carry the names and for end events written before they existed."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import psycopg
import pytest

from orchestrator.domain import commands as cmd
from orchestrator.domain import events as ev
from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.evolve import evolve
from orchestrator.domain.state import WorkflowState
from orchestrator.domain.statuses import TaskStatus
from orchestrator.replay.rows import workflow_row
from orchestrator.testing.builders import Engine, task, workflow
from projections.apply import Batch, LoggedEvent, apply_batch
from projections.migrate import migrate
from tests import readmodel_support as support

pytestmark = [pytest.mark.postgres]

LINEAR = workflow("linear", task("t1", name="task_one"), task("t2", name="task_two"))
ENDS = (ev.WorkflowCompleted, ev.WorkflowFailed, ev.WorkflowTerminated)


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = support.database_url()
    schema = support.create_schema(base)
    url = support.schema_url(base, schema)
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
    yield url
    support.drop_schema(base, schema)


def _history() -> list[ev.Event]:
    """Fail, retry, fail elsewhere, restart, fail, rerun, complete."""
    e = Engine.of(
        [LINEAR], [TaskDef(name="task_one", retry_count=0), TaskDef(name="task_two", retry_count=0)]
    )
    e.start("linear")
    e.report("t1", TaskStatus.FAILED_WITH_TERMINAL_ERROR)
    e.op(cmd.RetryWorkflow)
    e.report("t1")
    e.report("t2", TaskStatus.FAILED)
    e.op(cmd.RestartWorkflow)
    e.report("t1", TaskStatus.FAILED)
    e.op(cmd.RerunWorkflow, from_task_id=e.t("t1").task_id)
    e.report("t1")
    e.report("t2")
    return e.history


def _older(event: ev.Event) -> ev.Event:
    """The event as code before the names wrote it."""
    if isinstance(event, ENDS):
        return dataclasses.replace(event, failed_ref_names=None, failed_task_names=None)
    return event


@pytest.mark.parametrize("older", [False, True], ids=["names", "older-log"])
def test_projected_failed_names_equal_the_fold_after_every_event(pg_url: str, older: bool) -> None:
    history = [_older(e) for e in _history()] if older else _history()
    state: WorkflowState | None = None
    seen = set()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for offset, event in enumerate(history):
            apply_batch(conn, Batch(events=[LoggedEvent(event, "t.events", 0, offset)]), "c")
            state = evolve(state, event)
            expected = workflow_row(state, with_definition=False)
            found = conn.execute(
                "SELECT failed_ref_names, failed_task_names FROM workflows"
            ).fetchone()
            assert found == (expected["failed_ref_names"], expected["failed_task_names"]), (
                type(event).__name__,
                event.seq,
            )
            seen.add(tuple(found[0]))
    if older:  # the rule of their time: the failed task's reference, cleared by any reopen
        assert seen == {(), ("t1",), ("t2",)}
    else:
        assert seen == {(), ("t1",), ("t1", "t2")}
