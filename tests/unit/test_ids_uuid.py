"""The ids' direct uuid5 computation gives exactly uuid.uuid5's answer (ids are persisted)."""

import random
import uuid

from orchestrator.domain import ids


def test_ids_are_the_uuid5_of_the_tagged_name():
    rng = random.Random(7)
    alphabet = "abcXYZ:_-é€😀 0123"
    for _ in range(500):
        parts = [
            "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))),
            rng.randint(0, 99),
        ]
        expected = str(uuid.uuid5(ids.NAMESPACE, ":".join(str(p) for p in parts)))
        assert ids._uuid(*parts) == expected


def test_task_id_is_unchanged():
    # Computed with uuid.uuid5 before the fast path: ids stored in logs must not move.
    assert ids.task_id("wf-1", "a", 0, 0) == "6c4bd458-ec3e-5c63-b4ce-84c448763568"
