"""fastcopy.replace must behave exactly like dataclasses.replace on the state's dataclasses."""

import dataclasses
import hashlib

import pytest
from pyrsistent import pmap, pset

from orchestrator.domain.definitions import TaskDef
from orchestrator.domain.fastcopy import copier, fast_init, replace
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


# -- fast_init ---------------------------------------------------------------------------------


def _shapes(decorate):
    """The same class shapes twice: with dataclasses' __init__ and with `decorate` applied."""

    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
    class Base:
        a: str
        b: int = 7

    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
    class Child(Base):
        c: dict = dataclasses.field(default_factory=dict)
        d: str | None = None
        hidden: list = dataclasses.field(default_factory=list, init=False)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Positional:
        x: int
        y: tuple = ()
        z: dict = dataclasses.field(default_factory=lambda: {"k": 1})
        w: int = dataclasses.field(default=3, kw_only=True)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        n: int

        def __post_init__(self):
            if self.n < 0:
                raise ValueError("n must not be negative")

    return [decorate(c) for c in (Base, Child, Positional, Checked)]


CALLS = [
    (0, (), {"a": "x"}),
    (0, (), {"a": "x", "b": 2}),
    (1, (), {"a": "x", "c": {"q": [1]}, "d": "y"}),
    (1, (), {"a": "x"}),
    (2, (1,), {}),
    (2, (1, (2,)), {"z": {}, "w": 9}),
    (2, (), {"x": 5, "y": (1,)}),
    (3, (4,), {}),
]


@pytest.mark.parametrize(("shape", "args", "kwargs"), CALLS)
def test_fast_init_builds_what_the_dataclass_init_builds(shape, args, kwargs):
    slow = _shapes(lambda c: c)[shape]
    fast = _shapes(fast_init)[shape]
    made, expected = fast(*args, **kwargs), slow(*args, **kwargs)
    assert dataclasses.asdict(made) == dataclasses.asdict(expected)
    assert [getattr(made, f.name) for f in dataclasses.fields(made)] == [
        getattr(expected, f.name) for f in dataclasses.fields(expected)
    ]
    assert "fast_init" in type(made).__init__.__code__.co_filename


def test_fast_init_gives_each_instance_its_own_default_factory_value():
    child = _shapes(fast_init)[1]
    one, two = child(a="1"), child(a="2")
    assert one.c == {} and one.c is not two.c and one.hidden is not two.hidden


@pytest.mark.parametrize(
    ("shape", "args", "kwargs"),
    [
        (0, (), {}),
        (0, ("x",), {}),
        (0, (), {"a": "x", "nope": 1}),
        (2, (), {}),
        (2, (1, 2, 3, 4), {}),
    ],
)
def test_fast_init_rejects_calls_the_dataclass_init_rejects(shape, args, kwargs):
    for cls in (_shapes(lambda c: c)[shape], _shapes(fast_init)[shape]):
        with pytest.raises(TypeError):
            cls(*args, **kwargs)


def test_fast_init_runs_post_init_and_keeps_the_class_frozen():
    checked = _shapes(fast_init)[3]
    with pytest.raises(ValueError, match="negative"):
        checked(-1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        checked(1).n = 2  # type: ignore[misc]


def test_domain_records_are_built_by_fast_init():
    from orchestrator.domain import commands, effects, events, state

    for module in (commands, effects, events, state):
        for value in vars(module).values():
            if dataclasses.is_dataclass(value) and value.__module__ == module.__name__:
                assert "fast_init" in value.__init__.__code__.co_filename, value
