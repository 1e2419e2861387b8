"""The collector settings of the service processes (orchestrator/gctune.py)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from orchestrator.gctune import YOUNG_THRESHOLD, tune_for_service


@pytest.fixture()
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_freezes_what_is_alive_and_raises_only_the_young_threshold() -> None:
    gc.unfreeze()
    _, middle, old = gc.get_threshold()
    tune_for_service()
    assert gc.get_freeze_count() > 1000  # modules, classes, functions of this process
    assert gc.get_threshold() == (YOUNG_THRESHOLD, middle, old)


@pytest.mark.usefixtures("restored_gc")
def test_cycles_made_after_tuning_are_still_collected_automatically() -> None:
    tune_for_service()

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # type: ignore[attr-defined]
    probe = weakref.ref(a)
    del a, b
    assert probe() is not None  # a cycle: reference counting alone cannot free it
    kept = [[] for _ in range(2 * YOUNG_THRESHOLD)]  # enough new containers for a young pass
    assert probe() is None
    assert len(kept) == 2 * YOUNG_THRESHOLD
