"""The workflow view's failed task names, as Conductor fills them when a run ends, and each
task's WorkflowTask."""

from __future__ import annotations

from orchestrator.api.views import failed_names, tasks_by_ref


def _task(ref: str, name: str, status: str) -> dict[str, str]:
    return {"ref": ref, "name": name, "status": status}


def test_names_recorded_by_the_end_events_are_shown_as_recorded() -> None:
    """Recorded (failed_task_names not NULL): kept by retry, so shown while it runs again."""
    row = {"status": "RUNNING", "failed_ref_names": ["t1"], "failed_task_names": ["task_1"]}
    assert failed_names(row, [_task("t2", "task_2", "FAILED")]) == (["t1"], ["task_1"])


def test_a_completed_run_names_every_task_that_failed_on_the_way() -> None:
    row = {"status": "COMPLETED", "failed_ref_names": []}
    tasks = [
        _task("t1", "task_1", "FAILED"),
        _task("t1", "task_1", "COMPLETED"),
        _task("t2", "task_2", "FAILED_WITH_TERMINAL_ERROR"),
        _task("t3", "task_3", "TIMED_OUT"),
    ]
    assert failed_names(row, tasks) == (["t1", "t2"], ["task_1", "task_2"])


def test_a_failed_run_keeps_the_task_it_failed_on() -> None:
    row = {"status": "FAILED", "failed_ref_names": ["t3"]}
    tasks = [_task("t3", "task_3", "TIMED_OUT")]
    assert failed_names(row, tasks) == (["t3"], ["task_3"])


def test_a_running_workflow_shows_only_what_the_read_model_holds() -> None:
    row = {"status": "RUNNING", "failed_ref_names": []}
    assert failed_names(row, [_task("t1", "task_1", "FAILED")]) == ([], [])


def test_without_tasks_the_names_of_the_failed_references_stay_unknown() -> None:
    row = {"status": "FAILED", "failed_ref_names": ["t1"]}
    assert failed_names(row, None) == (["t1"], [])


def test_every_task_of_a_definition_is_found_by_reference_nested_lists_included() -> None:
    inner = {"name": "x", "taskReferenceName": "x", "permissive": True}
    definition = {
        "tasks": [
            {"name": "f", "taskReferenceName": "f", "type": "FORK_JOIN", "forkTasks": [[inner]]},
            {
                "name": "s",
                "taskReferenceName": "s",
                "decisionCases": {"a": [{"name": "y", "taskReferenceName": "y"}]},
                "defaultCase": [{"name": "z", "taskReferenceName": "z"}],
            },
            {"name": "l", "taskReferenceName": "l", "loopOver": [{"taskReferenceName": "w"}]},
        ]
    }
    found = tasks_by_ref(definition)
    assert sorted(found) == ["f", "l", "s", "w", "x", "y", "z"]
    assert found["x"]["permissive"] is True
    assert tasks_by_ref(None) == {}
