"""Fixtures shared by the end-to-end tests (see tests/runtime_support.py)."""

from collections.abc import Iterator

import pytest

from tests.e2e.conductor_fidelity_support import Conductor, fidelity_stack
from tests.runtime_support import runtime  # noqa: F401 - a pytest fixture


@pytest.fixture(scope="session")
def conductor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Conductor]:
    """One Conductor-fidelity stack for every test module that asks for it (issue #16)."""
    with fidelity_stack(tmp_path_factory.mktemp("fidelity")) as (_, client):
        yield client
