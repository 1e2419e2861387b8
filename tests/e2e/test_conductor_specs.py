"""Conductor's own spec cases against our server, compared with the real Conductor's answers.

The cases (tests/conductor_spec/cases/) replay features of Conductor's test-harness specs over
REST with HTTP-polling workers; tests/conductor_spec/reference/ holds what the real Conductor
OSS 3.32.3 showed for each (recorded with `scripts/conductor_diff.py --record`). One
`orchestrator serve` on the real stack runs every case, several at once in the background,
and each test compares one case's observation with the recorded one.

Cases we do not match yet are listed in tests/conductor_spec/known_differences.py, with the
reason, as strict xfails: a fix that makes one pass turns this red until the list is updated.
Heavy cases (waits of many seconds) run only in `make conductor-diff`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conductor_spec.known_differences import KNOWN_DIFFERENCES
from tests.conductor_spec.registry import all_cases
from tests.conductor_spec.runner import Result, diff, load_reference, new_prefix, run_case
from tests.conductor_spec.server import our_server
from tests.runtime_support import bootstrap

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

CASES = {name: c for name, c in all_cases().items() if not c.heavy}
JOBS = 4  # cases at once: most of a case's time is waiting on timers and polls


def _params() -> list[object]:
    params: list[object] = []
    for name in CASES:
        marks = []
        if name in KNOWN_DIFFERENCES:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_DIFFERENCES[name]))
        params.append(pytest.param(name, marks=marks, id=name))
    return params


@pytest.fixture(scope="module")
def observations(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future[Result]]]:
    """Every case submitted at once against one server; each test waits for its own."""
    bootstrap()  # fails with a clear message when the stack's env is missing
    log_dir: Path = tmp_path_factory.mktemp("conductor-specs")
    run = uuid.uuid4().hex[:5]
    with our_server(log_dir) as url, ThreadPoolExecutor(max_workers=JOBS) as pool:
        futures = {
            name: pool.submit(run_case, url, c, new_prefix(run, i), load_reference(name))
            for i, (name, c) in enumerate(CASES.items())
        }
        yield futures
        for future in futures.values():
            future.cancel()


def test_every_known_difference_names_a_case() -> None:
    unknown = sorted(set(KNOWN_DIFFERENCES) - set(all_cases()))
    assert not unknown, f"known_differences.py lists cases that do not exist: {unknown}"


def test_every_case_has_a_recorded_reference() -> None:
    missing = [name for name in all_cases() if load_reference(name) is None]
    assert not missing, (
        f"no recorded reference for {missing}: run scripts/conductor_diff.py --record -k NAME "
        "against the real Conductor"
    )


@pytest.mark.parametrize("name", _params())
def test_case_matches_conductor(name: str, observations: dict[str, Future[Result]]) -> None:
    result = observations[name].result(timeout=110)
    expected = load_reference(name)
    assert expected is not None, f"no recorded reference for {name}"
    lines = diff(expected, result.entries)
    note = f" ({result.error})" if result.error else ""
    assert not lines, f"{name} differs from Conductor{note}:\n" + "\n".join(lines)
