"""fastcopy.replace must behave exactly like dataclasses.replace on the state's dataclasses."""

import dataclasses
import hashlib

import pytest
from pyrsistent import pmap, pset

from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.fastcopy import copier, replace
from orchestrator.domain.state import TaskState, WorkflowState
from orchestrator.domain.statuses import TaskStatus, WorkflowStatus


def distinct_values(cls: type) -> dict[str, object]:
    """A value per field, each different from the defaults and from each other."""
    return {
        f.name: f"{f.name}-{hashlib.sha1(f.name.encode()).hexdigest()[:6]}"
        for f in dataclasses.fields(cls)
    }


def workflow_state() -> WorkflowState:
    return WorkflowState(
        workflow_id="wf-1",
        root_workflow_id="wf-1",
        definition=None,  # type: ignore[arg-type]
        status=WorkflowStatus.RUNNING,
        input={"x": 1},
        seq=3,
        created_at=10,
        started_at=10,
        updated_at=12,
        reason="why",
        tasks=pmap({"t": "task"}),
        unsettled=pset(["t"]),
    )


def task_state() -> TaskState:
    return TaskState(
        task_id="t",
        ref="a",
        definition_ref="a",
        name="a",
        task_type="SIMPLE",
        kind="SIMPLE",
        status=TaskStatus.SCHEDULED,
        input={},
        task_def=TaskDef(name="a"),
        seq=1,
        generation=0,
        scheduled_at=5,
        first_scheduled_at=5,
    )


@pytest.mark.parametrize("cls", [WorkflowState, TaskState])
def test_copies_every_field_and_replaces_each_one(cls):
    original = cls(**distinct_values(cls))
    assert replace(original) == original
    for f in dataclasses.fields(cls):
        new = replace(original, **{f.name: "changed"})
        assert new == dataclasses.replace(original, **{f.name: "changed"})
        assert getattr(new, f.name) == "changed"


def test_result_has_the_same_type_and_leaves_the_original_alone():
    state = workflow_state()
    new = replace(state, seq=4, status=WorkflowStatus.PAUSED)
    assert type(new) is WorkflowState and new is not state
    assert (state.seq, state.status) == (3, WorkflowStatus.RUNNING)
    assert (new.seq, new.status, new.input, new.tasks) == (
        4,
        WorkflowStatus.PAUSED,
        {"x": 1},
        state.tasks,
    )


def test_none_replaces_a_value():
    assert replace(workflow_state(), reason=None).reason is None


def test_copy_stays_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        replace(task_state(), seq=2).seq = 3  # type: ignore[misc]


def test_unknown_field_raises_type_error_like_dataclasses_replace():
    with pytest.raises(TypeError):
        dataclasses.replace(task_state(), nope=1)
    with pytest.raises(TypeError, match="nope"):
        replace(task_state(), nope=1)
    with pytest.raises(TypeError, match="nope"):
        copier(TaskState)(task_state(), nope=1)


def test_copier_is_generated_once_per_class():
    assert copier(WorkflowState) is copier(WorkflowState)
    assert copier(WorkflowState) is not copier(TaskState)


def test_copy_equals_dataclasses_replace_with_several_changes():
    task = task_state()
    changes = {"status": TaskStatus.COMPLETED, "output": {"y": 2}, "ended_at": 9, "worker_id": "w"}
    assert copier(TaskState)(task, **changes) == dataclasses.replace(task, **changes)


def test_refuses_classes_it_cannot_copy_faithfully():
    @dataclasses.dataclass(frozen=True)
    class NotSlotted:
        x: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Validated:
        x: int

        def __post_init__(self) -> None:
            assert self.x >= 0

    for cls in (NotSlotted, Validated):
        with pytest.raises(TypeError):
            replace(cls(1))
